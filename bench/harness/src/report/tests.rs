//! Report rendering checks: ratios of medians, CPU attribution, the testbed header.

use super::*;
use serde_json::json;

fn bulk(contender: &str, rep: u32, gbit: f64, cpu: f64) -> Value {
    json!({"workload": "bulk-1", "contender": contender, "rep": rep, "wall_s": 1.0, "error": null,
           "foreign_cpu_s": 0.1,
           "metrics": {"bytes": 1073741824.0, "gbit_per_s": gbit},
           "cpu_s": {"relay": cpu, "connector": cpu, "backend": 9.0, "loadgen": 9.0}})
}

#[test]
fn goal_ratios_use_medians_and_exclude_backend_cpu() {
    let dir = std::env::temp_dir().join(format!("bench-report-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let r = json!({
        "timestamp": "T", "quick": true, "reps": 3, "cores": 2, "bulk_bytes": 1073741824u64,
        "gib": 1073741824.0, "notes": [], "idle": [], "elapsed_s": 1.0,
        "contenders": [{"name": "sallyport", "dial": "x"}, {"name": "h2-baseline", "dial": "y"}],
        "samples": [
            bulk("sallyport", 0, 4.0, 0.5), bulk("sallyport", 1, 100.0, 0.5), bulk("sallyport", 2, 5.0, 0.5),
            bulk("h2-baseline", 0, 2.0, 1.0), bulk("h2-baseline", 1, 2.0, 1.0), bulk("h2-baseline", 2, 2.0, 1.0),
        ],
    });
    write(&dir, &r).expect("write");
    let md = std::fs::read_to_string(dir.join("report.md")).expect("report");
    // Median 5.0 over 2.0: the outlier run (100) does not move it.
    assert!(md.contains("| sallyport / h2-baseline | 2.50× |"), "{md}");
    // Tunnel CPU: relay + connector = 1.0 vs 2.0 per GiB; backend and loadgen left out.
    assert!(
        md.contains("bulk-1: sallyport / h2-baseline tunnel cpu-s per GiB | 0.500 | ≤ 0.6 | yes"),
        "{md}"
    );
    assert!(std::fs::read_to_string(dir.join("throughput.svg"))
        .expect("svg")
        .starts_with("<svg"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn testbed_runs_say_so_in_the_header_and_loopback_runs_do_not() {
    let dir = std::env::temp_dir().join(format!("bench-report-tb-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let mut r = json!({
        "timestamp": "T", "quick": true, "reps": 1, "cores": 2, "bulk_bytes": 1073741824u64,
        "gib": 1073741824.0, "notes": [], "idle": [], "elapsed_s": 1.0, "samples": [],
        "contenders": [{"name": "direct", "dial": "direct:198.18.3.2:21001", "from": "dmz"}],
        "testbed": {
            "cloud": {"netns": "sp-cloud", "host": "198.18.1.2"},
            "dmz": {"netns": "sp-dmz", "host": "198.18.2.2"},
            "corp": {"netns": "sp-corp", "host": "198.18.3.2"},
            "direct_from": "dmz",
        },
    });
    write(&dir, &r).expect("write");
    let md = std::fs::read_to_string(dir.join("report.md")).expect("report");
    assert!(
        md.contains("**Across network namespaces (testbed).**"),
        "{md}"
    );
    assert!(md.contains("in `sp-dmz` (198.18.2.2)"), "{md}");
    assert!(md.contains("drops cloud → corp by design"), "{md}");
    assert!(
        md.contains("dialer `direct:198.18.3.2:21001`, load generator in dmz"),
        "{md}"
    );
    r["testbed"] = Value::Null;
    write(&dir, &r).expect("write");
    let md = std::fs::read_to_string(dir.join("report.md")).expect("report");
    assert!(!md.contains("Across network namespaces"), "{md}");
    assert!(!md.contains("load generator in"), "{md}");
    let _ = std::fs::remove_dir_all(&dir);
}
