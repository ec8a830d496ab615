//! Reading the tables `kubectl ray get ...` prints, as KubeRay's plugin
//! prints them (columns padded with spaces, headers may hold one space).

use std::collections::BTreeMap;

/// The table's rows as maps from header to cell: a header starts after a
/// run of 2+ spaces, and a cell is the text from where its header starts.
pub fn rows(table: &str) -> Vec<BTreeMap<String, String>> {
    let mut lines = table.lines();
    let header = lines.next().unwrap_or_default();
    let mut starts = Vec::new();
    let mut prev_space = 2;
    for (i, c) in header.char_indices() {
        if c != ' ' && prev_space >= 2 {
            starts.push(i);
        }
        prev_space = if c == ' ' { prev_space + 1 } else { 0 };
    }
    let cut = |line: &str, i: usize| -> String {
        let end = starts
            .get(i + 1)
            .copied()
            .unwrap_or(line.len())
            .min(line.len());
        line.get(starts[i]..end).unwrap_or("").trim().to_string()
    };
    lines
        .map(|line| {
            (0..starts.len())
                .map(|i| (cut(header, i), cut(line, i)))
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_with_a_space_hold_together() {
        let table = "NAME   DESIRED WORKERS   AGE\ndemo   1                 5s\n";
        let rows = rows(table);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["NAME"], "demo");
        assert_eq!(rows[0]["DESIRED WORKERS"], "1");
        assert_eq!(rows[0]["AGE"], "5s");
    }
}
