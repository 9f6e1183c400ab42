//! Showing an error with its causes. Errors here keep their cause as a source (never flattened
//! to text); whoever shows one to a person — a log line, the CLI, an admin answer — prints the
//! whole chain with [`Report`]. No dependency, so every layer can use it.

/// Displays an error and every cause under it, `outer: inner: innermost` (hyper and rustls,
/// for example, put the reason, such as an unknown certificate issuer, in the source chain).
pub struct Report<'a>(pub &'a (dyn std::error::Error + 'a));

impl std::fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(c) = cause {
            write!(f, ": {c}")?;
            cause = c.source();
        }
        Ok(())
    }
}

/// [`Report`] as a string.
pub fn chain(e: &dyn std::error::Error) -> String {
    Report(e).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn the_chain_shows_every_cause() {
        let e = Outer(std::io::Error::other("innermost"));
        assert_eq!(chain(&e), "outer: innermost");
    }
}
