//! The request query as s3s reads it: names and values percent-decoded with
//! `serde_urlencoded` (what s3s's `OrderedQs` uses), so every check here sees the parameter
//! s3s verified, however the client spelled its name (`X-Amz-%45xpires` is `X-Amz-Expires`).

/// A decoded query.
#[derive(Debug, Default)]
pub struct Query(Vec<(String, String)>);

impl Query {
    /// Decodes `raw`. A query s3s cannot decode either yields an empty one here: s3s refuses
    /// the request itself.
    pub fn parse(raw: Option<&str>) -> Self {
        Self(raw.and_then(|q| serde_urlencoded::from_str(q).ok()).unwrap_or_default())
    }

    /// Every value of `name`, in request order.
    pub fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Whether `name` is present.
    pub fn has(&self, name: &str) -> bool {
        self.values(name).next().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_values_are_decoded_like_s3s_does() {
        let q = Query::parse(Some("X-Amz-%45xpires=4294967295&X-Amz-Signed%48eaders=host%3Bx-amz-meta-a&a=1&a=2"));
        assert_eq!(q.values("X-Amz-Expires").collect::<Vec<_>>(), ["4294967295"]);
        assert_eq!(q.values("X-Amz-SignedHeaders").collect::<Vec<_>>(), ["host;x-amz-meta-a"]);
        assert_eq!(q.values("a").collect::<Vec<_>>(), ["1", "2"]);
        assert!(!q.has("b") && Query::parse(None).values("a").next().is_none());
    }
}
