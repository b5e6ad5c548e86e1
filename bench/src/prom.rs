//! Reading the server's `/metrics` (Prometheus text exposition format): one
//! histogram's buckets picked out by name and labels, the difference between
//! two scrapes, and quantiles estimated from the buckets the way
//! Prometheus's `histogram_quantile` does (linear interpolation inside the
//! bucket the rank falls in).

/// A histogram as scraped: cumulative bucket counts by upper bound, the sum
/// of the observed values and their count. Series that match the same
/// selector (e.g. differing only in a label the caller does not name) are
/// added together.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PromHistogram {
    /// `(le, cumulative count)`, ascending by `le`; the last is `+Inf` when
    /// the server exported it.
    pub buckets: Vec<(f64, f64)>,
    pub sum: f64,
    pub count: f64,
}

/// One sample line: `name{label="value",...} value [timestamp]`.
#[derive(Debug, PartialEq)]
struct Sample<'a> {
    name: &'a str,
    labels: Vec<(&'a str, String)>,
    value: f64,
}

impl Sample<'_> {
    fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    fn matches(&self, selector: &[(&str, &str)]) -> bool {
        selector.iter().all(|&(k, v)| self.label(k) == Some(v))
    }
}

/// Parses one sample line; `None` for comments, blank and malformed lines.
fn parse_line(line: &str) -> Option<Sample<'_>> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let name_end = line.find(|c: char| c == '{' || c.is_whitespace())?;
    let name = &line[..name_end];
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(body) = rest.strip_prefix('{') {
        let (parsed, after) = parse_labels(body)?;
        labels = parsed;
        rest = after;
    }
    let value = parse_value(rest.split_whitespace().next()?)?;
    Some(Sample {
        name,
        labels,
        value,
    })
}

/// Parses `key="value",...}` (the text after `{`); returns the labels and
/// the text after the closing `}`.
fn parse_labels(mut body: &str) -> Option<(Vec<(&str, String)>, &str)> {
    let mut labels = Vec::new();
    loop {
        body = body.trim_start_matches([' ', ',']);
        if let Some(after) = body.strip_prefix('}') {
            return Some((labels, after));
        }
        let (key, after_key) = body.split_once('=')?;
        let quoted = after_key.trim_start().strip_prefix('"')?;
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        let end = loop {
            match chars.next()? {
                (i, '"') => break i,
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other), // \\ and \"
                },
                (_, c) => value.push(c),
            }
        };
        labels.push((key.trim(), value));
        body = &quoted[end + 1..];
    }
}

fn parse_value(text: &str) -> Option<f64> {
    match text {
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => text.parse().ok(),
    }
}

/// The histogram `name` restricted to series carrying every label of
/// `selector`; `None` when the text has no `_bucket`, `_sum` or `_count`
/// line for it (a server that does not export it).
pub fn histogram(text: &str, name: &str, selector: &[(&str, &str)]) -> Option<PromHistogram> {
    let bucket_name = format!("{name}_bucket");
    let sum_name = format!("{name}_sum");
    let count_name = format!("{name}_count");
    let mut found = false;
    let mut histogram = PromHistogram::default();
    for sample in text.lines().filter_map(parse_line) {
        if !sample.matches(selector) {
            continue;
        }
        if sample.name == bucket_name {
            let Some(le) = sample.label("le").and_then(parse_value) else {
                continue;
            };
            match histogram.buckets.iter_mut().find(|(b, _)| *b == le) {
                Some((_, count)) => *count += sample.value,
                None => histogram.buckets.push((le, sample.value)),
            }
        } else if sample.name == sum_name {
            histogram.sum += sample.value;
        } else if sample.name == count_name {
            histogram.count += sample.value;
        } else {
            continue;
        }
        found = true;
    }
    histogram.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    found.then_some(histogram)
}

impl PromHistogram {
    /// What was observed between the `earlier` scrape and this one (bucket
    /// by bucket; a bucket missing from `earlier` counts from zero).
    pub fn since(&self, earlier: &PromHistogram) -> PromHistogram {
        let before = |le: f64| {
            earlier
                .buckets
                .iter()
                .find(|(b, _)| *b == le)
                .map_or(0.0, |(_, c)| *c)
        };
        PromHistogram {
            buckets: self
                .buckets
                .iter()
                .map(|&(le, c)| (le, (c - before(le)).max(0.0)))
                .collect(),
            sum: (self.sum - earlier.sum).max(0.0),
            count: (self.count - earlier.count).max(0.0),
        }
    }

    /// Mean observed value; `None` with no observations.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0.0).then(|| self.sum / self.count)
    }

    /// The `q` quantile (0..=1) estimated as `histogram_quantile` does:
    /// linear interpolation between the bounds of the bucket the rank falls
    /// in (from 0 for the first bucket); in the `+Inf` bucket, the highest
    /// finite bound. `None` without observations or buckets.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.buckets.last()?.1;
        if total <= 0.0 {
            return None;
        }
        let rank = q.clamp(0.0, 1.0) * total;
        let (mut lower, mut below) = (0.0, 0.0);
        for &(le, count) in &self.buckets {
            if count >= rank {
                if le.is_infinite() {
                    return Some(lower);
                }
                if count == below {
                    return Some(le);
                }
                return Some(lower + (le - lower) * (rank - below) / (count - below));
            }
            (lower, below) = (le, count);
        }
        // The counts never reach the total: no `+Inf` line was exported.
        Some(lower)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRAPE: &str = r#"# HELP channelhub_delivery_stage_seconds Delivery stages
# TYPE channelhub_delivery_stage_seconds histogram
channelhub_delivery_stage_seconds_bucket{stage="publish_to_commit",le="0.001"} 10
channelhub_delivery_stage_seconds_bucket{stage="publish_to_commit",le="0.002"} 30
channelhub_delivery_stage_seconds_bucket{stage="publish_to_commit",le="0.004"} 40
channelhub_delivery_stage_seconds_bucket{stage="publish_to_commit",le="+Inf"} 40
channelhub_delivery_stage_seconds_sum{stage="publish_to_commit"} 0.06
channelhub_delivery_stage_seconds_count{stage="publish_to_commit"} 40
channelhub_delivery_stage_seconds_bucket{le="0.001",stage="commit_to_socket"} 5
channelhub_delivery_stage_seconds_bucket{le="+Inf",stage="commit_to_socket"} 5
channelhub_delivery_stage_seconds_sum{stage="commit_to_socket"} 0.001
channelhub_delivery_stage_seconds_count{stage="commit_to_socket"} 5
channelhub_events_published_total 123
"#;

    const NAME: &str = "channelhub_delivery_stage_seconds";

    #[test]
    fn parses_names_labels_escapes_and_values() {
        let line = r#"m_total{a="x,y",b="say \"hi\"\\n" , c="1"} 1.5e3 1700000000"#;
        let sample = parse_line(line).unwrap();
        assert_eq!(sample.name, "m_total");
        assert_eq!(sample.label("a"), Some("x,y"));
        assert_eq!(sample.label("b"), Some("say \"hi\"\\n"));
        assert_eq!(sample.label("c"), Some("1"));
        assert_eq!(sample.value, 1500.0);
        assert_eq!(parse_line("up 1").unwrap().labels, vec![]);
        assert!(parse_line("# TYPE up gauge").is_none());
        assert!(parse_line("broken{a=\"1\" 2").is_none());
    }

    #[test]
    fn picks_one_series_by_label_in_any_order() {
        let h = histogram(SCRAPE, NAME, &[("stage", "publish_to_commit")]).unwrap();
        assert_eq!(
            h.buckets,
            vec![
                (0.001, 10.0),
                (0.002, 30.0),
                (0.004, 40.0),
                (f64::INFINITY, 40.0)
            ]
        );
        assert_eq!((h.sum, h.count), (0.06, 40.0));
        let h = histogram(SCRAPE, NAME, &[("stage", "commit_to_socket")]).unwrap();
        assert_eq!(h.count, 5.0);
        assert_eq!(h.buckets.len(), 2);
    }

    #[test]
    fn absent_metric_is_none() {
        assert!(histogram(SCRAPE, "channelhub_other_seconds", &[]).is_none());
        assert!(histogram(SCRAPE, NAME, &[("stage", "elsewhere")]).is_none());
        assert!(histogram("", NAME, &[]).is_none());
    }

    #[test]
    fn series_matching_the_selector_are_added() {
        let both = histogram(SCRAPE, NAME, &[]).unwrap();
        assert_eq!(both.count, 45.0);
        assert_eq!(both.buckets[0], (0.001, 15.0));
        assert_eq!(both.buckets.last(), Some(&(f64::INFINITY, 45.0)));
    }

    #[test]
    fn quantiles_interpolate_inside_the_bucket() {
        let h = histogram(SCRAPE, NAME, &[("stage", "publish_to_commit")]).unwrap();
        // Rank 20 of 40 falls in (0.001, 0.002] holding ranks 11..=30: halfway.
        assert!((h.quantile(0.5).unwrap() - 0.0015).abs() < 1e-12);
        // Rank 5 of 40 in the first bucket, interpolated from 0.
        assert!((h.quantile(0.125).unwrap() - 0.0005).abs() < 1e-12);
        // Rank 39.6 in (0.002, 0.004] holding ranks 31..=40.
        assert!((h.quantile(0.99).unwrap() - 0.00392).abs() < 1e-12);
        assert!((h.mean().unwrap() - 0.0015).abs() < 1e-12);
    }

    #[test]
    fn quantile_in_the_inf_bucket_is_the_highest_finite_bound() {
        let h = PromHistogram {
            buckets: vec![(0.01, 1.0), (f64::INFINITY, 10.0)],
            sum: 5.0,
            count: 10.0,
        };
        assert_eq!(h.quantile(0.9), Some(0.01));
        assert_eq!(PromHistogram::default().quantile(0.5), None);
        assert_eq!(PromHistogram::default().mean(), None);
    }

    #[test]
    fn deltas_between_scrapes() {
        let before = histogram(SCRAPE, NAME, &[("stage", "publish_to_commit")]).unwrap();
        let later = SCRAPE
            .replace("le=\"0.002\"} 30", "le=\"0.002\"} 50")
            .replace("le=\"0.004\"} 40", "le=\"0.004\"} 60")
            .replace("le=\"+Inf\"} 40", "le=\"+Inf\"} 60")
            .replace(
                "_sum{stage=\"publish_to_commit\"} 0.06",
                "_sum{stage=\"publish_to_commit\"} 0.1",
            )
            .replace(
                "_count{stage=\"publish_to_commit\"} 40",
                "_count{stage=\"publish_to_commit\"} 60",
            );
        let after = histogram(&later, NAME, &[("stage", "publish_to_commit")]).unwrap();
        let delta = after.since(&before);
        assert_eq!(
            delta.buckets,
            vec![
                (0.001, 0.0),
                (0.002, 20.0),
                (0.004, 20.0),
                (f64::INFINITY, 20.0)
            ]
        );
        assert_eq!(delta.count, 20.0);
        assert!((delta.mean().unwrap() - 0.002).abs() < 1e-12);
        // All 20 in (0.001, 0.002]: the median is halfway through it.
        assert!((delta.quantile(0.5).unwrap() - 0.0015).abs() < 1e-12);
        // A first scrape without the metric: everything counts from zero.
        assert_eq!(after.since(&PromHistogram::default()), after);
    }
}
