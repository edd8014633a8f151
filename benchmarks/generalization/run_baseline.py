"""Step 1 of the study: the demo's models (ridge, hist_gb) on the demo features, both splits."""
import os
import sys

import pandas as pd

sys.path.insert(0, os.path.dirname(__file__))
from study import QUESTIONS, fmt, load, rows, run

if __name__ == "__main__":
    d = load(sys.argv[1] if len(sys.argv) > 1 else "full")
    allr = []
    for q in QUESTIONS:
        for split in ("generator", "crossed"):
            r = run(d, q, ["ridge", "hist_gb"], split=split)
            allr += rows(r, q, "demo features")
            print(q, split, f"{r.settings['seconds']:.1f}s load {os.getloadavg()}", flush=True)
    df = pd.DataFrame(allr)
    df.to_csv(os.environ.get("OUT", "/tmp/gen_baseline.csv"), index=False)
    print(fmt(df))
