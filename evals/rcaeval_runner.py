"""Run the `rcaeval` package's own N-Sigma and BARO on our CSVs, in the interpreter that has it.

Not imported by the project: `evals.bench_rca` runs it with a separate Python (a venv with
`rcaeval==1.8.1`, pandas and scikit-learn, whose pins may clash with ours). Reads one JSON
object per line on stdin, {"csv": path, "inject_time": t}, and writes one JSON line each:
{"nsigma": [columns best first], "baro": [...]}.

    /tmp/rcaeval-venv/bin/python evals/rcaeval_runner.py < jobs.jsonl
"""

import json
import sys
import warnings

warnings.filterwarnings("ignore")


def main() -> int:
    import pandas as pd
    from RCAEval.e2e import nsigma
    from RCAEval.e2e.baro import baro

    for line in sys.stdin:
        if not line.strip():
            continue
        job = json.loads(line)
        data = pd.read_csv(job["csv"])
        out = {}
        for name, fn in (("nsigma", nsigma), ("baro", baro)):
            # Any dataset name makes RCAEval's preprocess drop the time and constant columns.
            out[name] = fn(data, inject_time=job["inject_time"], dataset="sandbox")["ranks"]
        print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
