"""judgenet.backbones."""
