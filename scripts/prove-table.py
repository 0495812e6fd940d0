"""Rewrites the figures table of docs/reliability.md from the JSON lines of the prove suites."""
import datetime
import json
import sys

lines_path, doc_path, profile = sys.argv[1], sys.argv[2], sys.argv[3]
runs = [json.loads(l) for l in open(lines_path, encoding="utf-8") if l.strip()]
rows = ["| suite | pass | figures |", "|---|---|---|"]
for r in sorted(runs, key=lambda r: (r["test"], r.get("target", ""))):
    figures = ", ".join(f"{k} {v}" for k, v in r["figures"].items())
    name = f"{r['test']} {r['target']}" if "target" in r else r["test"]
    rows.append(f"| {name} | {'yes' if r['pass'] else '**no**'} | {figures} |")
stamp = datetime.date.today().isoformat()
table = "\n".join([f"<!-- prove:begin -->", f"Latest `scripts/prove.sh{' --full' if profile == 'full' else ''}` run ({profile} profile, {stamp}):", "", *rows, "<!-- prove:end -->"])
doc = open(doc_path, encoding="utf-8").read()
begin, end = doc.index("<!-- prove:begin -->"), doc.index("<!-- prove:end -->") + len("<!-- prove:end -->")
open(doc_path, "w", encoding="utf-8").write(doc[:begin] + table + doc[end:])
print(f"updated {doc_path}")
