//! What the benchmarks read from `/proc`: this process's CPU time (the scheduler's nanosecond
//! counters and the clock ticks of `stat`), another process's CPU ticks, the whole machine's
//! busy ticks, the clock tick rate, a process's peak resident memory and the load average.

use std::process::{Command, Stdio};

use kopek_local::emulator::SERIAL_MOTO;

/// `VmHWM` of a process, in KiB (0 when unknown).
pub(super) fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// The process's CPU time so far: the sum of every thread's time on a CPU (nanoseconds, the
/// first field of each `schedstat`). Threads that exit take their time with them, so this
/// serves for deltas while no thread starts or stops — true of one request on a
/// single-threaded runtime.
pub(super) fn process_cpu_ns() -> Option<u64> {
    let mut total = 0u64;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let path = task.ok()?.path().join("schedstat");
        // A thread may end between listing and reading it; it then counts for nothing.
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        total += text.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

/// The process's user + system CPU time in clock ticks: fields 14 and 15 of
/// `/proc/self/stat` (counted after the parenthesised command name, which may hold spaces).
pub(super) fn process_cpu_ticks() -> Option<u64> {
    cpu_ticks_of("self")
}

/// User + system CPU time in clock ticks of the process `/proc/{pid}` (every thread of it).
pub(super) fn cpu_ticks_of(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // `after_name` starts at field 3 (state).
    let utime: u64 = fields.get(14 - 3)?.parse().ok()?;
    let stime: u64 = fields.get(15 - 3)?.parse().ok()?;
    Some(utime + stime)
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on Linux when it cannot be asked).
pub(super) fn clock_ticks_per_sec() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .stderr(Stdio::null())
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(100)
}

/// The emulator's own process — moto under Python, not its `sh` watchdog — found by its
/// command line `python -c SERIAL_MOTO -H 127.0.0.1 -p PORT`.
pub(super) fn moto_pid(endpoint: &str) -> Option<String> {
    let port = endpoint.rsplit(':').next()?.as_bytes();
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
            let moto = args.get(1).is_some_and(|a| *a == b"-c")
                && args.get(2).is_some_and(|a| *a == SERIAL_MOTO.as_bytes())
                && args.windows(2).any(|w| w[0] == b"-p" && w[1] == port);
            moto.then(|| entry.file_name().to_string_lossy().into_owned())
        })
}

/// The whole machine's busy CPU time in clock ticks, every core: the first line of
/// `/proc/stat` less idle and I/O wait.
pub(super) fn machine_busy_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let total: u64 = fields.iter().take(8).sum();
    Some(total - fields.get(3)? - fields.get(4)?)
}

pub(super) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "n/a".to_owned())
}
