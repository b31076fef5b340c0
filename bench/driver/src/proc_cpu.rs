//! What a process spent: CPU time from `/proc/<pid>/stat` (every thread's user + system
//! time), and user-space instructions from `perf stat` where the machine exposes a hardware
//! counter (many VMs do not: then the reason is reported instead of a figure).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};

/// Clock ticks per second of `/proc/<pid>/stat` (`getconf CLK_TCK`; 100 on Linux in practice).
pub(crate) fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<f64>()
                .ok()
        })
        .filter(|&t| t > 0.0)
        .unwrap_or(100.0)
}

/// utime + stime of the whole process (all threads, those gone included), in clock ticks.
pub(crate) fn cpu_ticks(pid: u32) -> Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    stat_ticks(&stat)
}

/// CPU time in nanoseconds of the process's threads whose name starts with `prefix` (Envoy
/// names its workers `wrk:worker_<n>`): the scheduler's own count (`schedstat`, first field),
/// exact where `stat` counts 10 ms ticks. Threads read as they run: one that exits takes its
/// time with it, which Envoy's workers never do while it serves.
pub(crate) fn thread_cpu_ns(pid: u32, prefix: &str) -> Result<u64> {
    let mut total = 0;
    let dir = format!("/proc/{pid}/task");
    for task in std::fs::read_dir(&dir).with_context(|| format!("reading {dir}"))? {
        let task = task?.path();
        let (Ok(name), Ok(sched)) = (
            std::fs::read_to_string(task.join("comm")),
            std::fs::read_to_string(task.join("schedstat")),
        ) else {
            continue; // the thread just ended
        };
        if name.trim_end().starts_with(prefix) {
            total += sched
                .split_whitespace()
                .next()
                .and_then(|x| x.parse::<u64>().ok())
                .context("schedstat without a run time")?;
        }
    }
    Ok(total)
}

/// The whole machine's busy and total clock ticks so far (`/proc/stat`, every core): busy
/// is everything but idle and iowait.
pub(crate) fn machine_ticks() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<u64> = text
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = fields.iter().take(8).sum();
    let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
    (total.saturating_sub(idle), total)
}

/// utime + stime from the text of a `stat` file.
fn stat_ticks(stat: &str) -> Result<u64> {
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("/proc/<pid>/stat without ')'")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime and stime are fields 14 and 15.
    let field = |n: usize| -> Result<u64> {
        fields
            .get(n - 3)
            .context("/proc/<pid>/stat too short")?
            .parse()
            .context("/proc/<pid>/stat: not a number")
    };
    Ok(field(14)? + field(15)?)
}

/// Resident memory (VmRSS) of a process, KiB.
pub(crate) fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// `perf stat -e instructions:u` on a short command: `Ok(())` when it yields a count, else why not.
pub(crate) fn perf_probe() -> std::result::Result<(), String> {
    let out = Command::new("perf")
        .args(["stat", "-x", ",", "-e", "instructions:u", "--", "/bin/true"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run perf: {e}"))?;
    let text = String::from_utf8_lossy(&out.stderr);
    match parse_count(&text) {
        Some(_) => Ok(()),
        None => {
            let pmu = Path::new("/sys/bus/event_source/devices/cpu").exists()
                || Path::new("/sys/bus/event_source/devices/cpu_core").exists();
            let line = text
                .lines()
                .find(|l| l.contains("instructions"))
                .unwrap_or("no output");
            Err(format!(
                "perf stat -e instructions:u gives no count (`{}`){}",
                line.trim(),
                if pmu {
                    ""
                } else {
                    ": the machine exposes no hardware PMU (no cpu device under \
                     /sys/bus/event_source/devices; usual in a VM)"
                }
            ))
        }
    }
}

/// The count on the `instructions:u` line of `perf stat -x,` output.
fn parse_count(text: &str) -> Option<u64> {
    text.lines()
        .filter(|l| l.contains("instructions"))
        .find_map(|l| l.split(',').next()?.trim().parse().ok())
}

/// `perf stat` attached to a running process until [`PerfCount::finish`].
pub(crate) struct PerfCount {
    child: Child,
    out: std::path::PathBuf,
}

impl PerfCount {
    pub(crate) fn attach(pid: u32, out: &Path) -> Result<PerfCount> {
        let child = Command::new("perf")
            .args(["stat", "-x", ",", "-e", "instructions:u", "-o"])
            .arg(out)
            .args(["-p", &pid.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("spawning perf stat")?;
        // perf needs a moment to open the counters before the load starts.
        std::thread::sleep(Duration::from_millis(200));
        Ok(PerfCount {
            child,
            out: out.to_path_buf(),
        })
    }

    /// Stops perf (SIGINT makes it print its counts) and reads the count.
    pub(crate) fn finish(mut self) -> Result<u64> {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-INT", &pid]).status()?;
        for _ in 0..100 {
            if self.child.try_wait()?.is_some() {
                let text = std::fs::read_to_string(&self.out)?;
                return parse_count(&text)
                    .with_context(|| format!("no instructions count in perf's output: {text}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("perf stat did not stop within 5 s of SIGINT")
    }
}

impl Drop for PerfCount {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}
