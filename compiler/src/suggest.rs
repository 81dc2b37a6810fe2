//! "Did you mean" suggestions.

/// The candidate closest to `word`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_lowercase();
    candidates
        .into_iter()
        .map(|c| {
            let score = strsim::jaro_winkler(&lower, &c.to_lowercase());
            let distance = strsim::damerau_levenshtein(&lower, &c.to_lowercase());
            (c, score, distance)
        })
        .filter(|(c, score, distance)| *score >= 0.8 || *distance <= (c.len() / 3).max(1))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(c, _, _)| c)
}

#[cfg(test)]
mod tests {
    use super::did_you_mean;

    #[test]
    fn suggests_close_names() {
        assert_eq!(did_you_mean("locaton", ["location", "name", "format"]), Some("location"));
        assert_eq!(did_you_mean("FROMAT", ["location", "name", "format"]), Some("format"));
        assert_eq!(did_you_mean("zzz", ["location", "name"]), None);
    }
}
