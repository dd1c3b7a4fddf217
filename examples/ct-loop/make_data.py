"""Write one version of the iris training data as CSV: ``python make_data.py full incoming/002-full.csv``."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from irisdata import version


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=["small", "full", "shuffled"])
    parser.add_argument("path", type=Path)
    args = parser.parse_args()
    args.path.parent.mkdir(parents=True, exist_ok=True)
    partial = args.path.with_name(args.path.name + ".part")  # a watcher ignores *.part: no half-written file
    version(args.kind).to_csv(partial, index=False)
    os.replace(partial, args.path)
    print(f"wrote {args.path} ({args.kind})")


if __name__ == "__main__":
    main()
