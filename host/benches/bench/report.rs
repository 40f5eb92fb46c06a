//! Prints one workload's table: median figure, ratio to the first contender
//! (native), spread and median peak RSS.

use crate::contenders::Sample;

fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Prints the table of `results`; the first row is the baseline of the ratios.
pub fn print(title: &str, unit: &str, results: &[(String, Vec<Sample>)]) {
    println!("\n{title}");
    println!(
        "  {:<42} {:>12} {:>7} {:>19} {:>10}",
        "contender",
        format!("median {unit}"),
        "ratio",
        "min..max",
        "peak RSS"
    );
    let base = results.first().map_or(f64::NAN, |(_, s)| {
        median(s.iter().map(|s| s.value).collect())
    });
    for (name, samples) in results {
        let values: Vec<f64> = samples.iter().map(|s| s.value).collect();
        let m = median(values.clone());
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let rss = median(samples.iter().map(|s| s.rss_kib as f64).collect());
        println!(
            "  {:<42} {:>12.1} {:>7.2} {:>19} {:>7.0} MiB",
            name,
            m,
            m / base,
            format!("{min:.1}..{max:.1}"),
            rss / 1024.0
        );
    }
}
