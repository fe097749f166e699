"""The report of `make bench`: reads the JSON lines the clients printed (benches/bench.sh
collects them) and writes the table of medians and ratios to stdout and, under OUT_DIR,
`bench.json`, `bench.md` and `bench.png` (a bar chart: each client's median time relative
to the floor's, per scenario).

    python report.py SAMPLES.jsonl META.json OUT_DIR

Ratios are of median times, ours/theirs: below 1 this SDK is faster. Runs with any
Python 3; the chart needs matplotlib (the kernel environment, .venv/kernel, has it) and
is skipped with a note without it.
"""

import json
import statistics
import sys
from pathlib import Path

OURS = "e2b-rs"
# Column order; "floor" is the raw hyper client, "curl" the floor of file transfers.
CLIENTS = [OURS, "python", "js", "floor", "curl"]
SCENARIOS = [
    ("run_true", 'commands.run("true")'),
    ("read_small", "files.read (1 KiB)"),
    ("run_code", 'run_code("1+1")'),
    ("create_first", "create → first command"),
    ("create_ci_first", 'code interpreter: create → run_code("1+1"), warm pool'),
    ("create_ci_cold", 'code interpreter: create → run_code("1+1"), no pool'),
    ("upload", "upload {file}"),
    ("download", "download {file}"),
    ("upload_ci", "upload {file}, code interpreter"),
    ("download_ci", "download {file}, code interpreter"),
    ("stdout", "{stdout} stdout"),
    ("concurrent", "1000 commands, 10 sandboxes"),
]


def size(mib):
    return f"{mib // 1024} GiB" if mib % 1024 == 0 else f"{mib} MiB"


MIB = 1024 * 1024


def load(path):
    rows = {}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        row = json.loads(line)
        key = (row["scenario"], row["client"])
        if key in rows:
            # Runs of one client interleaved with the others' (bench.sh): one sample set.
            rows[key]["samples"] += row["samples"]
            if row.get("peak_rss_mib") is not None:
                rows[key]["peak_rss_mib"] = max(rows[key].get("peak_rss_mib") or 0,
                                                row["peak_rss_mib"])
        else:
            rows[key] = row
    return rows


def floor_of(rows, scenario):
    """The floor of a scenario: curl for transfers, the hyper client otherwise."""
    for client in ("curl", "floor"):
        if (scenario, client) in rows:
            return client
    return None


def summarise(rows, meta):
    sizes = {"file": size(meta.get("file_mib", 1024)), "stdout": size(meta.get("stdout_mib", 256))}
    out = []
    for key, label in SCENARIOS:
        label = label.format(**sizes)
        # The code interpreter's transfers compare with the plain ones' floor.
        base = key.removesuffix("_ci")
        clients = {}
        for client in CLIENTS:
            row = rows.get((key, client))
            if row is None:
                continue
            median = statistics.median(row["samples"])
            entry = {
                "median": median,
                "unit": row["unit"],
                "samples": row["samples"],
                "version": row.get("version"),
            }
            if "bytes" in row:
                seconds = median if row["unit"] == "s" else median / 1000.0
                entry["mib_per_s"] = row["bytes"] / MIB / seconds
            if row.get("peak_rss_mib") is not None:
                entry["peak_rss_mib"] = row["peak_rss_mib"]
            clients[client] = entry
        if not clients:
            continue
        ratios = {}
        ours = clients.get(OURS)
        if ours:
            for client, entry in clients.items():
                if client != OURS:
                    ratios[f"{OURS}/{client}"] = ours["median"] / entry["median"]
            floor = floor_of(rows, base)
            if key != base and floor and (base, floor) in rows:
                ratios[f"{OURS}/{floor}"] = ours["median"] / statistics.median(
                    rows[(base, floor)]["samples"])
        out.append({"scenario": key, "label": label, "clients": clients, "ratios": ratios})
    return out


def cell(entry):
    if entry is None:
        return "—"
    unit = entry["unit"]
    text = f"{entry['median']:.2f} {unit}" if unit == "s" else f"{entry['median']:.2f} ms"
    if "mib_per_s" in entry:
        text += f" ({entry['mib_per_s']:.0f} MiB/s"
        if "peak_rss_mib" in entry:
            text += f", {entry['peak_rss_mib']:.0f} MiB RSS"
        text += ")"
    return text


def table(summary):
    present = [c for c in CLIENTS if any(c in s["clients"] for s in summary)]
    ratio_names = []
    for s in summary:
        for name in s["ratios"]:
            if name not in ratio_names:
                ratio_names.append(name)
    # Floors last: ours/python, ours/js, ours/floor, ours/curl.
    ratio_names.sort(key=lambda n: CLIENTS.index(n.split("/")[1]))
    head = ["scenario (median)"] + present + ratio_names
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in summary:
        row = [s["label"]] + [cell(s["clients"].get(c)) for c in present]
        row += [f"{s['ratios'][n]:.2f}" if n in s["ratios"] else "—" for n in ratio_names]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def chart(summary, meta, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed: no chart"
    groups = [s for s in summary if s["clients"]]
    clients = [c for c in CLIENTS if any(c in s["clients"] for s in groups)]
    width = 0.8 / max(len(clients), 1)
    fig, ax = plt.subplots(figsize=(13, 5.5))
    for i, client in enumerate(clients):
        xs, ys = [], []
        for x, s in enumerate(groups):
            entry = s["clients"].get(client)
            base = s["scenario"].removesuffix("_ci")
            floor = next((s2 for s2 in summary if s2["scenario"] == base), s)
            reference = floor["clients"].get("curl") or floor["clients"].get("floor")
            if entry is None or reference is None:
                continue
            xs.append(x - 0.4 + width * (i + 0.5))
            ys.append(entry["median"] / reference["median"])
        ax.bar(xs, ys, width, label=client)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([s["label"] for s in groups], rotation=20, ha="right", fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("median time / floor's (log; lower is faster)")
    ax.set_title(f"make bench — load average {meta.get('load_before', '?')} → "
                 f"{meta.get('load_after', '?')}, {meta.get('cpus', '?')} CPUs", fontsize=10)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return None


def main():
    samples, meta_path, out_dir = sys.argv[1:4]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta = json.loads(Path(meta_path).read_text())
    summary = summarise(load(samples), meta)
    text = table(summary)
    note = (f"Medians; ratios are of median times, ours/theirs (below 1: this SDK is faster). "
            f"Load average (1, 5, 15 min) {meta.get('load_before')} before, "
            f"{meta.get('load_after')} after; {meta.get('cpus')} CPUs.")
    print(text)
    print()
    print(note)
    (out / "bench.md").write_text(text + "\n\n" + note + "\n")
    (out / "bench.json").write_text(json.dumps({"meta": meta, "scenarios": summary}, indent=2) + "\n")
    skipped = chart(summary, meta, out / "bench.png")
    if skipped:
        print(skipped)
    print(f"wrote {out / 'bench.json'}, {out / 'bench.md'}" + ("" if skipped else f", {out / 'bench.png'}"))


if __name__ == "__main__":
    main()
