//! "Did you mean" help: one way to suggest the closest valid name for a mistyped one,
//! used by every diagnostic that offers one.

/// The help for `value`, which matches none of `candidates`: see [`Help`].
pub fn help<'a>(value: &str, candidates: impl IntoIterator<Item = &'a str>) -> Help<'a> {
    Help { closest: closest(value, candidates) }
}

/// A suggestion, if a candidate is close enough to be a likely typo.
pub struct Help<'a> {
    closest: Option<&'a str>,
}

impl<'a> Help<'a> {
    /// "did you mean `x`?", or `otherwise` when no candidate is close.
    pub fn or(self, otherwise: impl Into<String>) -> String {
        self.explained_or(|_| String::new(), otherwise)
    }

    /// "did you mean `x`?" followed by what `more` adds about `x`, or `otherwise`.
    pub fn explained_or(self, more: impl FnOnce(&str) -> String, otherwise: impl Into<String>) -> String {
        match self.closest {
            Some(name) => format!("did you mean `{name}`?{}", more(name)),
            None => otherwise.into(),
        }
    }
}

/// The candidate closest to `word`, if it is close enough to be a likely typo.
fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
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
    use super::{closest, help};

    #[test]
    fn suggests_close_names() {
        assert_eq!(closest("locaton", ["location", "name", "format"]), Some("location"));
        assert_eq!(closest("FROMAT", ["location", "name", "format"]), Some("format"));
        assert_eq!(closest("zzz", ["location", "name"]), None);
    }

    #[test]
    fn help_suggests_or_falls_back() {
        assert_eq!(help("locaton", ["location"]).or("use `location`"), "did you mean `location`?");
        assert_eq!(help("zzz", ["location"]).or("use `location`"), "use `location`");
        let explained = help("nme", ["name"]).explained_or(|s| format!(" (`{}` works too)", s.to_uppercase()), "");
        assert_eq!(explained, "did you mean `name`? (`NAME` works too)");
    }
}
