"""judgenet.captions — caption metrics against real human judgments (Flickr8k-Expert/CF, Pascal-50S,
THumB 1.0): the published protocols (:mod:`.protocols`), the field's reference metric
implementation (:mod:`.refmetrics`, pycocoevalcap; optional extra ``judgenet[captions]``),
sentence-encoder and CLIP metrics, published values with their source (:mod:`.published`), the
``judgenet benchmark`` command (:mod:`.benchmark`, :mod:`.cli`) and learned-vs-raw on THumB
(:mod:`.learned`).
"""
from .benchmark import BENCHMARK_SETS, BenchmarkResult, BenchmarkRow, run_benchmark, write_benchmark
from .protocols import PROTOCOLS, Instances, Protocol
from .published import PUBLISHED, PublishedValue, published_for
from .refmetrics import REFERENCE_METRICS, java_available, reference_metrics

__all__ = ["run_benchmark", "write_benchmark", "BenchmarkResult", "BenchmarkRow", "BENCHMARK_SETS", "PROTOCOLS",
           "Protocol", "Instances", "PUBLISHED", "PublishedValue", "published_for", "REFERENCE_METRICS",
           "reference_metrics", "java_available"]
