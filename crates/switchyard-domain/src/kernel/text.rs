//! Rules for the text fields many catalog objects share: lengths, slugs, optional strings.

use crate::kernel::error::DomainError;

/// Checks that `value` has `min` to `max` characters.
pub(crate) fn length(field: &str, value: &str, min: usize, max: usize) -> Result<(), DomainError> {
    let count = value.chars().count();
    if count < min || count > max {
        return Err(DomainError::validation(
            field,
            "invalid_length",
            format!("must be {min} to {max} characters"),
        ));
    }
    Ok(())
}

/// A slug: 1–64 of `[a-z0-9_-]`, starting with a letter or digit (trimmed first).
pub(crate) fn slug(field: &str, raw: &str) -> Result<String, DomainError> {
    let slug = raw.trim().to_owned();
    length(field, &slug, 1, 64)?;
    let allowed = slug
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if !allowed || !slug.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric()) {
        return Err(DomainError::validation(
            field,
            "invalid_slug",
            "may contain only a-z, 0-9, '_' and '-', starting with a letter or digit",
        ));
    }
    Ok(slug)
}

/// A trimmed optional string; blank counts as absent.
pub(crate) fn optional(value: Option<String>) -> Option<String> {
    value
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

/// A trimmed optional string of at most `max` characters.
pub(crate) fn optional_bounded(field: &str, value: Option<String>, max: usize) -> Result<Option<String>, DomainError> {
    let value = optional(value);
    if let Some(value) = &value {
        length(field, value, 1, max)?;
    }
    Ok(value)
}

/// Refuses text with a NUL character: PostgreSQL cannot store one in text.
pub(crate) fn no_nul(field: &str, text: &str) -> Result<(), DomainError> {
    if text.contains('\0') {
        return Err(DomainError::validation(
            field,
            "invalid_character",
            "must not contain the NUL character (U+0000)",
        ));
    }
    Ok(())
}

/// An ISO 4217 code: three letters, stored upper case.
pub fn currency(field: &str, raw: &str) -> Result<String, DomainError> {
    let code = raw.trim().to_ascii_uppercase();
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(DomainError::validation(
            field,
            "invalid_currency",
            "must be an ISO 4217 code such as USD or CNY",
        ));
    }
    Ok(code)
}
