//! The few provider XML answers the gateway reads. A DOCTYPE is refused (no entity expansion
//! from a provider either).

use quick_xml::Reader;
use quick_xml::events::Event;
use std::fmt::Write as _;

/// The text of every element named `name`, in document order.
fn texts(xml: &[u8], name: &[u8]) -> Result<Vec<String>, String> {
    let mut reader = Reader::from_reader(xml);
    let mut out = Vec::new();
    let mut inside = false;
    let mut current = String::new();
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf).map_err(|e| format!("malformed XML: {e}"))? {
            Event::DocType(_) => return Err("DOCTYPE in provider XML".into()),
            Event::Start(e) if e.local_name().as_ref() == name => {
                inside = true;
                current.clear();
            }
            Event::Text(t) if inside => {
                current.push_str(&t.decode().map_err(|e| format!("bad XML text: {e}"))?);
            }
            Event::GeneralRef(r) if inside => {
                let entity = std::str::from_utf8(r.as_ref()).map_err(|e| e.to_string())?;
                current.push_str(match entity {
                    "amp" => "&",
                    "lt" => "<",
                    "gt" => ">",
                    "quot" => "\"",
                    "apos" => "'",
                    other => return Err(format!("unknown XML entity {other}")),
                });
            }
            Event::End(e) if inside && e.local_name().as_ref() == name => {
                inside = false;
                out.push(std::mem::take(&mut current));
            }
            Event::Eof => return Ok(out),
            _ => {}
        }
        buf.clear();
    }
}

fn first(xml: &[u8], name: &[u8]) -> Result<Option<String>, String> {
    Ok(texts(xml, name)?.into_iter().next())
}

/// A ListObjectsV2 page: (key, size) pairs and whether more follow.
pub fn list_objects_v2(xml: &[u8]) -> Result<(Vec<(String, u64)>, bool), String> {
    let keys = texts(xml, b"Key")?;
    let sizes = texts(xml, b"Size")?;
    if keys.len() != sizes.len() {
        return Err("ListObjectsV2: Key and Size counts differ".into());
    }
    let entries = keys
        .into_iter()
        .zip(sizes)
        .map(|(k, s)| s.trim().parse().map(|s| (k, s)).map_err(|_| format!("bad Size {s:?}")))
        .collect::<Result<_, _>>()?;
    let truncated = first(xml, b"IsTruncated")?.is_some_and(|t| t.trim() == "true");
    Ok((entries, truncated))
}

/// The UploadId of an InitiateMultipartUploadResult.
pub fn upload_id(xml: &[u8]) -> Result<String, String> {
    first(xml, b"UploadId")?.filter(|u| !u.is_empty()).ok_or_else(|| "no UploadId in answer".into())
}

/// The Status of a VersioningConfiguration (`None`: versioning was never enabled).
pub fn versioning_status(xml: &[u8]) -> Result<Option<String>, String> {
    Ok(first(xml, b"Status")?.filter(|s| !s.trim().is_empty()))
}

/// Whether an ObjectLockConfiguration says `ObjectLockEnabled: Enabled`.
pub fn object_lock_enabled(xml: &[u8]) -> Result<bool, String> {
    Ok(first(xml, b"ObjectLockEnabled")?.is_some_and(|s| s.trim() == "Enabled"))
}

/// The error code of an S3 error body, if any.
pub fn error_code(xml: &[u8]) -> Option<String> {
    first(xml, b"Code").ok().flatten()
}

/// A CompleteMultipartUpload request body.
pub fn complete_body(etags: &[String]) -> String {
    let mut s = String::from("<CompleteMultipartUpload>");
    for (i, e) in etags.iter().enumerate() {
        let e = e.replace('&', "&amp;").replace('<', "&lt;").replace('"', "&quot;");
        let _ = write!(s, "<Part><PartNumber>{}</PartNumber><ETag>{e}</ETag></Part>", i + 1);
    }
    s.push_str("</CompleteMultipartUpload>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_list_and_refuses_doctype() {
        let xml = br#"<?xml version="1.0"?><ListBucketResult><IsTruncated>true</IsTruncated><Contents><Key>sv1/a&amp;b</Key><Size>12</Size></Contents><Contents><Key>sv1/c</Key><Size>0</Size></Contents></ListBucketResult>"#;
        let (entries, truncated) = list_objects_v2(xml).unwrap();
        assert_eq!(entries, vec![("sv1/a&b".to_owned(), 12), ("sv1/c".to_owned(), 0)]);
        assert!(truncated);
        let bomb = br#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><ListBucketResult><Key>&lol;</Key></ListBucketResult>"#;
        assert!(list_objects_v2(bomb).is_err());
        assert_eq!(
            upload_id(b"<InitiateMultipartUploadResult><UploadId>xyz</UploadId></InitiateMultipartUploadResult>")
                .unwrap(),
            "xyz"
        );
        assert_eq!(error_code(b"<Error><Code>SlowDown</Code></Error>").as_deref(), Some("SlowDown"));
    }
}
