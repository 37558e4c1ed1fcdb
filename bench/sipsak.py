"""Workload 2: sipprobe's sweep versus Debian's sipsak, one process per probe."""

from __future__ import annotations

from bench import contenders as c
from bench.measure import InvalidMeasurement, Sample, run
from bench.model import Bench, Contender, WorkloadResult, rate_ratio, sweep_steps
from bench.servers import Listener


def sipsak_preflight(bench: Bench) -> list[str]:
    """Untimed: prove that sipsak verifies (a foreign CA fails) and say what TLS 1.3 and
    a lower verbosity do."""
    tls12 = bench.fleet.listeners("tls12")[0]
    tls13 = bench.fleet.listeners("tls")[0]
    base = c.sipsak_base(bench.tools, bench.fleet.lab.ca)
    ca_arg = f"--tls-ca-cert={bench.fleet.lab.ca}"
    foreign = [f"--tls-ca-cert={bench.fleet.lab.other_ca}" if a == ca_arg else a for a in base]
    quiet_foreign = [a for a in foreign if a != "-vvv"]

    def code(argv: list[str], listener: Listener) -> int:
        target = ["-s", f"sip:{listener.address}", "-r", str(listener.port)]
        return run([*argv, *target], timeout=30).exit_code

    good, bad, v13 = code(base, tls12), code(foreign, tls12), code(base, tls13)
    quiet_bad = code(quiet_foreign, tls12)
    if good != 0:
        raise InvalidMeasurement(f"sipsak with the lab CA exited {good} on the TLS 1.2 listener")
    if bad == 0:
        raise InvalidMeasurement("sipsak -vvv accepted a server chain from an unrelated CA")
    return [
        f"Certificate verification is on: with the lab CA sipsak exits {good}; with an "
        f"unrelated CA (`--tls-ca-cert=other-ca.pem`) the same probe exits {bad}.",
        "sipsak 0.9.8.1 verifies the server certificate only at verbosity 3 (`-vvv`); "
        f"without it the probe with the unrelated CA exits {quiet_bad} "
        f"({'accepted: no verification' if quiet_bad == 0 else 'refused'}). So sipsak runs "
        "with `-vvv`, its output to /dev/null.",
        "sipsak checks the host against the leaf's iPAddress SAN: it dials IP literals "
        "(with a name it would ask the system resolver); sipprobe dials the name with "
        "`--resolve` pins. Same listeners, same certificate chain.",
        f"Against a TLS 1.3 listener sipsak exits {v13} ('nothing received': its GnuTLS "
        "read loop drops the reply after the NewSessionTicket), so this comparison uses "
        "TLS 1.2-only listeners for both contenders.",
    ]


def versus_sipsak(bench: Bench) -> WorkloadResult:
    n, seq_n, conc = bench.plan.sweep_n, bench.plan.sipsak_sequential, bench.plan.concurrency
    facts = sipsak_preflight(bench)
    sipprobe, sipprobe_cmd = sweep_steps(bench, "tls12", n, f"tls12-{n}")
    listeners = bench.fleet.listeners("tls12")
    seq_args = c.write_sipsak_args(bench.workdir / "sipsak-seq.args", listeners, seq_n)
    par_args = c.write_sipsak_args(bench.workdir / "sipsak-par.args", listeners, n)
    ca = bench.fleet.lab.ca
    seq_argv, par_argv = c.xargs(bench.tools, ca, 1), c.xargs(bench.tools, ca, conc)

    def ok(sample: Sample) -> dict[str, float]:
        c.check_exit("xargs sipsak (123: some sipsak failed)", sample)
        return {}

    steps = {
        "sipprobe": sipprobe,
        "sipsak-seq": bench.step("sipsak-seq", seq_argv, ok, timeout=30 + seq_n, stdin=seq_args),
        "sipsak-par": bench.step("sipsak-par", par_argv, ok, timeout=30 + n, stdin=par_args),
    }
    series = bench.rounds(steps)
    return WorkloadResult(
        key="sipsak",
        title="2. Versus sipsak: one process per probe, TLS verified",
        what=(
            f"sipprobe sweeps {n} targets (concurrency {conc}); sipsak probes the same "
            f"listeners one process per probe, fed by xargs: sequentially (`-P 1`, the "
            f"shell loop a monitoring script runs; {seq_n} probes, a subset to keep the run "
            f"short — compared as probes/s) and fanned out (`-P {conc}`, {n} probes, the "
            "same concurrency as sipprobe)."
        ),
        fairness=[
            "Throughput in probes per wall second, each contender's whole run.",
            "The target (≥ 10×) is judged against the sequential loop, the way sipsak is "
            "scripted (its man page: one request per invocation); the fan-out figure, with "
            "equal concurrency, is shown beside it without a target.",
            "Both verify the chain against the lab CA; only sipprobe also judges it.",
        ],
        contenders=[
            Contender("sipprobe", "sipprobe options (TLS 1.2 listeners)", sipprobe_cmd, n),
            Contender("sipsak-seq", "sipsak, sequential", bench.shown(seq_argv) + " < args", seq_n),
            Contender(
                "sipsak-par", f"sipsak, xargs -P {conc}", bench.shown(par_argv) + " < args", n
            ),
        ],
        series=series,
        comparisons=[
            rate_ratio(
                series["sipprobe"],
                n,
                series["sipsak-seq"],
                seq_n,
                "sipprobe throughput ÷ sipsak sequential",
                op=">=",
                threshold=10.0,
            ),
            rate_ratio(
                series["sipprobe"],
                n,
                series["sipsak-par"],
                n,
                f"sipprobe throughput ÷ sipsak xargs -P {conc}",
            ),
        ],
        facts=facts,
    )
