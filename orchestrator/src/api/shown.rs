//! What answers show of values that may be secrets: parameters with credential-like
//! names and credentials written into a spec's text.

use std::collections::BTreeMap;

/// Parameters as answers show them: the values of credential-like names (`password`,
/// `*_token`, `*secret*`, ...) masked, since they may be secrets.
pub fn shown_params(params: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    params
        .iter()
        .map(|(name, value)| {
            let shown = if aqueducts_runtime::access::secrets::is_credential_name(name) { "***" } else { value };
            (name.clone(), shown.to_string())
        })
        .collect()
}

/// A spec's text as answers show it: passwords of connection strings and values of
/// credential settings masked, byte for byte (positions stay where they were).
pub fn shown_spec(text: &str) -> String {
    use aqueducts_runtime::access::secrets::{mask_credential_settings, mask_passwords};
    mask_credential_settings(&mask_passwords(text))
}

/// A spec's hash as answers show it: the stored digest of its text, or, when the text
/// holds credentials that [`shown_spec`] masks, the digest of the masked text (a digest
/// of the secret's text would let a reader test guesses at it offline).
pub fn shown_hash(text: &str, stored: &str) -> String {
    let shown = shown_spec(text);
    if shown == text {
        return stored.to_string();
    }
    crate::db::keys::digest(&shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_in_what_answers_show() {
        let params = BTreeMap::from([
            ("db_password".to_string(), "hunter2".to_string()),
            ("api_token".to_string(), "t0k".to_string()),
            ("month".to_string(), "jan".to_string()),
        ]);
        let shown = shown_params(&params);
        assert_eq!(shown["db_password"], "***");
        assert_eq!(shown["api_token"], "***");
        assert_eq!(shown["month"], "jan");
        let spec = "connection_string: Driver={PostgreSQL};PWD=hunter2;UID=me\naws_secret_access_key: abc123\n";
        let masked = shown_spec(spec);
        assert!(!masked.contains("hunter2") && !masked.contains("abc123"), "{masked}");
        assert!(masked.contains("UID=me"));
        assert_eq!(masked.len(), spec.len());
        assert_eq!(shown_hash("stages: []\n", "stored"), "stored");
        assert_ne!(shown_hash(spec, "stored"), "stored", "a text with a secret is not shown by its digest");
    }
}
