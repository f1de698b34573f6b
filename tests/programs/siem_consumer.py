"""Reads armr's events as a SIEM would, with real parsers, and prints each event's fields as
`key=value` lines (nested JSON keys joined with dots), events separated by a `--` line.

usage: siem_consumer.py cef|json FILE

cef: pycef (PyPI), the parser security teams feed CEF through; `csNLabel=L csN=V` becomes `L=V`.
json: python's json module; every line must be one complete object.
"""
import json
import sys


def flatten(prefix, value, out):
    if isinstance(value, dict):
        for k, v in value.items():
            flatten(f"{prefix}.{k}" if prefix else k, v, out)
    else:
        out[prefix] = json.dumps(value) if isinstance(value, list) else str(value)


def main():
    kind, path = sys.argv[1], sys.argv[2]
    with open(path, encoding="utf-8") as f:
        lines = [l for l in f.read().split("\n") if l]
    for line in lines:
        fields = {}
        if kind == "cef":
            import pycef

            parsed = pycef.parse(line)
            if not parsed:
                sys.exit("pycef could not parse: " + line)
            fields = {k: str(v) for k, v in parsed.items()}
        else:
            flatten("", json.loads(line), fields)
        for k in sorted(fields):
            print(f"{k}={fields[k]}".replace("\n", "\\n"))
        print("--")


main()
