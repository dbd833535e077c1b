//! The standard `process_*` metrics (CPU, memory, file descriptors, threads, start time), read
//! from `/proc/self` at each scrape as the Prometheus client libraries of other languages do.
//! prometheus-client has no process collector; procfs does the parsing.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

#[derive(Debug)]
pub(super) struct ProcessCollector {
    ticks_per_second: f64,
    page_size: f64,
    boot_time: f64,
}

impl ProcessCollector {
    pub(super) fn new() -> Self {
        ProcessCollector {
            ticks_per_second: procfs::ticks_per_second() as f64,
            page_size: procfs::page_size() as f64,
            boot_time: procfs::boot_time_secs().map_or(0.0, |t| t as f64),
        }
    }
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        // Nothing is exported when /proc cannot be read (not Linux, or hidden).
        let Ok(me) = procfs::process::Process::myself() else {
            return Ok(());
        };
        let Ok(stat) = me.stat() else {
            return Ok(());
        };
        let cpu = (stat.utime + stat.stime) as f64 / self.ticks_per_second;
        let counter = ConstCounter::new(cpu);
        counter.encode(encoder.encode_descriptor(
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds",
            None,
            counter.metric_type(),
        )?)?;
        let mut gauges = vec![
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                stat.rss as f64 * self.page_size,
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes",
                stat.vsize as f64,
            ),
            (
                "process_start_time_seconds",
                "Start time of the process since the Unix epoch in seconds",
                self.boot_time + stat.starttime as f64 / self.ticks_per_second,
            ),
            (
                "process_threads",
                "Number of OS threads in the process",
                stat.num_threads as f64,
            ),
        ];
        if let Ok(open) = me.fd_count() {
            gauges.push((
                "process_open_fds",
                "Number of open file descriptors",
                open as f64,
            ));
        }
        if let Ok(limits) = me.limits()
            && let procfs::process::LimitValue::Value(max) = limits.max_open_files.soft_limit
        {
            gauges.push((
                "process_max_fds",
                "Maximum number of open file descriptors",
                max as f64,
            ));
        }
        for (name, help, value) in gauges {
            let gauge = ConstGauge::new(value);
            gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)?;
        }
        Ok(())
    }
}
