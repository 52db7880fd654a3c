//! The few S3 XML documents the store reads and writes: `ListBucketResult` (ListObjectsV2),
//! `DeleteResult` (DeleteObjects), `Error`, and the `Delete` and `CreateBucketConfiguration`
//! request bodies.
//!
//! The reader flattens a document into `(path, text)` pairs of its leaf elements, in document
//! order (`ListBucketResult/Contents/Key`, ...): that is all these flat documents need, and it
//! keeps the parsing in one place.

use key_value_core::{Error, ErrorKind, Result};
use quick_xml::events::Event;
use quick_xml::reader::Reader;

/// The leaf elements of `xml` as `(slash-joined path of local names, text)`, in document order.
/// Entity and character references are resolved; whitespace is kept as is.
pub(crate) fn leaves(xml: &str) -> Result<Vec<(String, String)>> {
    let mut reader = Reader::from_str(xml);
    // (name, whether it has child elements)
    let mut stack: Vec<(String, bool)> = Vec::new();
    let mut text = String::new();
    let mut out = Vec::new();
    loop {
        match reader.read_event().map_err(malformed)? {
            Event::Start(e) => {
                if let Some(parent) = stack.last_mut() {
                    parent.1 = true;
                }
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                stack.push((name, false));
                text.clear();
            }
            Event::Empty(e) => {
                if let Some(parent) = stack.last_mut() {
                    parent.1 = true;
                }
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                out.push((path_with(&stack, &name), String::new()));
            }
            Event::End(_) => {
                let Some((name, has_children)) = stack.pop() else {
                    return Err(malformed("an end tag without a start tag"));
                };
                if !has_children {
                    out.push((path_with(&stack, &name), std::mem::take(&mut text)));
                }
                text.clear();
            }
            Event::Text(t) => text.push_str(&t.decode().map_err(malformed)?),
            Event::CData(t) => text.push_str(&t.decode().map_err(malformed)?),
            Event::GeneralRef(r) => match r.resolve_char_ref().map_err(malformed)? {
                Some(c) => text.push(c),
                None => {
                    let name = r.decode().map_err(malformed)?;
                    text.push(match name.as_ref() {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        other => {
                            return Err(malformed(format!("unknown entity &{other};")));
                        }
                    });
                }
            },
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    Ok(out)
}

fn path_with(stack: &[(String, bool)], name: &str) -> String {
    let mut path = String::new();
    for (n, _) in stack {
        path.push_str(n);
        path.push('/');
    }
    path.push_str(name);
    path
}

fn malformed(e: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::Backend,
        format!("the S3 server sent malformed XML: {e}"),
    )
}

/// `application/x-www-form-urlencoded` decoding (Python's `unquote_plus`, what boto3 applies
/// to names listed with `encoding-type=url`): `+` is a space, `%XX` a byte.
pub(crate) fn url_decode(text: &str) -> Result<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| malformed("a listed name is not UTF-8 once decoded"))
}

fn hex(digit: u8) -> Option<u8> {
    (digit as char).to_digit(16).map(|d| d as u8)
}

/// One page of a ListObjectsV2 answer.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct ListPage {
    /// Object keys, in order.
    pub keys: Vec<String>,
    /// Common prefixes (with `delimiter`), in order.
    pub prefixes: Vec<String>,
    /// The token of the next page, when the listing is truncated.
    pub next: Option<String>,
}

/// Parses a `ListBucketResult`. Names are URL-decoded when the answer says
/// `<EncodingType>url</EncodingType>`.
pub(crate) fn list_page(xml: &str) -> Result<ListPage> {
    let leaves = leaves(xml)?;
    let url_encoded = leaves
        .iter()
        .any(|(p, t)| p == "ListBucketResult/EncodingType" && t.eq_ignore_ascii_case("url"));
    let name = |t: &str| {
        if url_encoded {
            url_decode(t)
        } else {
            Ok(t.to_string())
        }
    };
    let mut page = ListPage::default();
    let mut truncated = false;
    let mut seen_root = false;
    for (path, text) in &leaves {
        seen_root |= path.starts_with("ListBucketResult/");
        match path.as_str() {
            "ListBucketResult/Contents/Key" => page.keys.push(name(text)?),
            "ListBucketResult/CommonPrefixes/Prefix" => page.prefixes.push(name(text)?),
            "ListBucketResult/IsTruncated" => truncated = text.trim() == "true",
            "ListBucketResult/NextContinuationToken" if !text.is_empty() => {
                page.next = Some(text.clone());
            }
            _ => {}
        }
    }
    if !seen_root && !xml.contains("ListBucketResult") {
        return Err(malformed("expected a ListBucketResult document"));
    }
    if !truncated {
        page.next = None;
    } else if page.next.is_none() {
        return Err(malformed(
            "a truncated listing without NextContinuationToken",
        ));
    }
    Ok(page)
}

/// The `Code` and `Message` of an S3 `<Error>` document, when the body is one.
pub(crate) fn error_code(body: &str) -> Option<(String, String)> {
    if !body.contains("<Error") {
        return None;
    }
    let leaves = leaves(body).ok()?;
    let get = |name: &str| {
        leaves
            .iter()
            .find(|(p, _)| p == name)
            .map(|(_, t)| t.trim().to_string())
    };
    let code = get("Error/Code")?;
    Some((code, get("Error/Message").unwrap_or_default()))
}

/// One key a DeleteObjects call could not delete.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct DeleteFailure {
    pub key: String,
    pub code: String,
    pub message: String,
}

/// The `<Error>` entries of a `DeleteResult` (empty when everything was deleted).
pub(crate) fn delete_failures(xml: &str) -> Result<Vec<DeleteFailure>> {
    let mut out: Vec<DeleteFailure> = Vec::new();
    for (path, text) in leaves(xml)? {
        match path.as_str() {
            "DeleteResult/Error/Key" => out.push(DeleteFailure {
                key: text,
                code: String::new(),
                message: String::new(),
            }),
            "DeleteResult/Error/Code" => {
                if let Some(last) = out.last_mut() {
                    last.code = text;
                }
            }
            "DeleteResult/Error/Message" => {
                if let Some(last) = out.last_mut() {
                    last.message = text;
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Escapes text for an XML element.
fn escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // A CR would be read back as LF by the server's XML parser.
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

/// The body of a quiet DeleteObjects request for `keys` (at most 1000).
pub(crate) fn delete_request(keys: &[&str]) -> String {
    let mut out =
        String::from(r#"<?xml version="1.0" encoding="UTF-8"?><Delete><Quiet>true</Quiet>"#);
    for key in keys {
        out.push_str("<Object><Key>");
        escape(key, &mut out);
        out.push_str("</Key></Object>");
    }
    out.push_str("</Delete>");
    out
}

/// The body of a CreateBucket request in `region`.
pub(crate) fn create_bucket_request(region: &str) -> String {
    let mut out = String::from(
        r#"<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>"#,
    );
    escape(region, &mut out);
    out.push_str("</LocationConstraint></CreateBucketConfiguration>");
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn list_page_reads_keys_prefixes_and_token() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>b</Name><Prefix>c/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>
  <IsTruncated>true</IsTruncated>
  <Contents><Key>c/a&amp;b</Key><Size>3</Size></Contents>
  <Contents><Key>c/&#233; &lt;x&gt;</Key></Contents>
  <CommonPrefixes><Prefix>d/</Prefix></CommonPrefixes>
  <NextContinuationToken>tok+/=</NextContinuationToken>
</ListBucketResult>"#;
        let page = list_page(xml).unwrap();
        assert_eq!(page.keys, vec!["c/a&b", "c/é <x>"]);
        assert_eq!(page.prefixes, vec!["d/"]);
        assert_eq!(page.next.as_deref(), Some("tok+/="));
    }

    #[test]
    fn list_page_url_decodes_when_asked() {
        let xml = "<ListBucketResult><EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>\
                   <Contents><Key>c/a+b%2Bc%C3%A9%01</Key></Contents>\
                   <NextContinuationToken>ignored</NextContinuationToken></ListBucketResult>";
        let page = list_page(xml).unwrap();
        assert_eq!(page.keys, vec!["c/a b+cé\u{1}"]);
        assert_eq!(page.next, None);
    }

    #[test]
    fn truncated_without_token_is_an_error() {
        let xml = "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>";
        assert_eq!(list_page(xml).unwrap_err().kind(), ErrorKind::Backend);
        assert!(list_page("<Other/>").is_err());
        assert!(list_page("<ListBucketResult><a></b></ListBucketResult>").is_err());
    }

    #[test]
    fn error_documents() {
        let body = "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>The key &quot;x&quot;</Message><Resource>/b/k</Resource></Error>";
        assert_eq!(
            error_code(body),
            Some(("NoSuchKey".to_string(), "The key \"x\"".to_string()))
        );
        assert_eq!(error_code("Forbidden"), None);
        assert_eq!(error_code(""), None);
    }

    #[test]
    fn delete_results() {
        let xml = "<DeleteResult><Deleted><Key>a</Key></Deleted><Error><Key>b</Key><Code>AccessDenied</Code><Message>no</Message></Error></DeleteResult>";
        assert_eq!(
            delete_failures(xml).unwrap(),
            vec![DeleteFailure {
                key: "b".into(),
                code: "AccessDenied".into(),
                message: "no".into()
            }]
        );
        assert!(delete_failures("<DeleteResult/>").unwrap().is_empty());
    }

    #[test]
    fn request_bodies_escape_and_round_trip() {
        let body = delete_request(&["c/a&b", "c/<'\">\r"]);
        let keys: Vec<String> = leaves(&body)
            .unwrap()
            .into_iter()
            .filter(|(p, _)| p == "Delete/Object/Key")
            .map(|(_, t)| t)
            .collect();
        assert_eq!(keys, vec!["c/a&b", "c/<'\">\r"]);
        assert!(create_bucket_request("eu-west-1").contains("<LocationConstraint>eu-west-1<"));
    }

    #[test]
    fn url_decode_is_unquote_plus() {
        assert_eq!(url_decode("a+b%20c%2B%zz%").unwrap(), "a b c+%zz%");
        assert!(url_decode("%FF").is_err());
    }
}
