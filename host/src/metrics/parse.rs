//! Reads the samples of a Prometheus text exposition (version 0.0.4), as
//! `sandnet status` needs them: names, labels, values. Comments (`# HELP`,
//! `# TYPE`) and timestamps are skipped.

/// One sample line: `name{label="value",...} value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The metric name.
    pub name: String,
    /// The labels, in the order written.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: f64,
}

impl Sample {
    /// The value of label `name`, if the sample has it.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A line of the exposition that is not a sample, a comment or blank.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "metrics line {line} is not a Prometheus sample ({what}): {text:?}; is the address a sandnet metrics endpoint?"
)]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub what: &'static str,
    /// The line.
    pub text: String,
}

/// Every sample of `text`.
pub fn parse(text: &str) -> Result<Vec<Sample>, ParseError> {
    let mut samples = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let sample = parse_line(line).map_err(|what| ParseError {
            line: i + 1,
            what,
            text: raw.to_owned(),
        })?;
        samples.push(sample);
    }
    Ok(samples)
}

fn parse_line(line: &str) -> Result<Sample, &'static str> {
    let name_end = line
        .find(|c: char| c == '{' || c.is_whitespace())
        .ok_or("no value")?;
    let name = &line[..name_end];
    if name.is_empty() {
        return Err("no metric name");
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(after) = rest.strip_prefix('{') {
        rest = parse_labels(after, &mut labels)?;
    }
    let value = rest.split_whitespace().next().ok_or("no value")?;
    let value = value.parse::<f64>().map_err(|_| "value is not a number")?;
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// Parses `a="x",b="y"}` into `labels`; returns what follows the `}`.
fn parse_labels<'a>(
    mut rest: &'a str,
    labels: &mut Vec<(String, String)>,
) -> Result<&'a str, &'static str> {
    loop {
        rest = rest.trim_start_matches([' ', ',']);
        if let Some(after) = rest.strip_prefix('}') {
            return Ok(after);
        }
        let (key, after) = rest.split_once("=\"").ok_or("label without =\"value\"")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err("unterminated label value"),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c)) => value.push(c),
                    None => return Err("unterminated label value"),
                },
                Some((_, c)) => value.push(c),
            }
        };
        labels.push((key.trim().to_owned(), value));
        rest = &after[end + 1..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str, labels: &[(&str, &str)], value: f64) -> Sample {
        Sample {
            name: name.to_owned(),
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            value,
        }
    }

    #[test]
    fn samples_with_and_without_labels_are_read() {
        let text = "# HELP a help\n# TYPE a counter\na 3\n\nb{x=\"1\",y=\"two words\"} 0.5 1700000000\nc{} +Inf\n";
        assert_eq!(
            parse(text),
            Ok(vec![
                sample("a", &[], 3.0),
                sample("b", &[("x", "1"), ("y", "two words")], 0.5),
                sample("c", &[], f64::INFINITY),
            ])
        );
    }

    #[test]
    fn escaped_label_values_are_unescaped() {
        let text = r#"m{g="a\"b\\c\nd",h="}"} 1"#;
        assert_eq!(
            parse(text),
            Ok(vec![sample("m", &[("g", "a\"b\\c\nd"), ("h", "}")], 1.0)])
        );
    }

    #[test]
    fn broken_lines_are_reported_with_their_number() {
        for (text, what) in [
            ("ok 1\nnovalue", "no value"),
            ("ok 1\nm{g=\"x} 1", "unterminated label value"),
            ("ok 1\nm{g} 1", "label without =\"value\""),
            ("ok 1\nm abc", "value is not a number"),
            ("ok 1\n<html>", "no value"),
        ] {
            let err = parse(text).expect_err(text);
            assert_eq!((err.line, err.what), (2, what), "{text:?}");
        }
    }
}
