//! Store URLs: the shared parsing that every store's config uses.
//!
//! Each store crate has one config struct that is both the target of its URL and its builder
//! (OpenDAL's pattern): `DiskConfig::from_url(&url)?.open()?` and
//! `DiskConfig::new(dir).max_size(1 << 30).open()?` are the same code path. [`StoreUrl`] gives
//! those configs typed access to the URL's parts and options, with
//! [`ErrorKind::Config`] errors that name the bad option, and rejects
//! options the store does not know so a typo is not silently ignored.
//!
//! ```
//! use key_value_core::config::StoreUrl;
//!
//! let url = StoreUrl::parse("disk:///var/cache/app?max_size=1048576&default_collection=users")?;
//! assert_eq!(url.scheme(), "disk");
//! assert_eq!(url.file_path()?, std::path::PathBuf::from("/var/cache/app"));
//! assert_eq!(url.option::<u64>("max_size")?, Some(1_048_576));
//! assert_eq!(url.option::<String>("default_collection")?.as_deref(), Some("users"));
//! url.check_options(&["max_size", "default_collection"])?;
//! assert!(url.check_options(&["max_size"]).is_err());
//! # Ok::<(), key_value_core::Error>(())
//! ```

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::error::{Error, ErrorKind, Result};

/// A parsed store URL (`scheme://[user[:password]@]host[:port]/path?option=value&...`).
///
/// Its `Debug` and `Display` forms hide the password.
#[derive(Clone)]
pub struct StoreUrl {
    url: url::Url,
}

impl StoreUrl {
    /// Parses `text`; a malformed URL is a `Config` error.
    pub fn parse(text: &str) -> Result<Self> {
        let url = url::Url::parse(text).map_err(|e| {
            Error::new(
                ErrorKind::Config,
                format!("invalid store URL {:?}: {e}", redact(text)),
            )
        })?;
        Ok(StoreUrl { url })
    }

    /// The scheme, lower-case (`"disk"`, `"redis"`, ...).
    pub fn scheme(&self) -> &str {
        self.url.scheme()
    }

    /// The host, if any.
    pub fn host(&self) -> Option<&str> {
        self.url.host_str().filter(|h| !h.is_empty())
    }

    /// The port, if given.
    pub fn port(&self) -> Option<u16> {
        self.url.port()
    }

    /// The user name, if given (percent-decoded).
    pub fn username(&self) -> Option<String> {
        let u = self.url.username();
        (!u.is_empty()).then(|| decode(u))
    }

    /// The password, if given (percent-decoded). Never printed by this type.
    pub fn password(&self) -> Option<String> {
        self.url.password().map(decode)
    }

    /// The path, percent-decoded (`/var/cache/app` for `disk:///var/cache/app`).
    pub fn path(&self) -> String {
        decode(self.url.path())
    }

    /// The path as a local file path, for file-based stores: `scheme:///abs/path`,
    /// `scheme://./relative/path` or `scheme://~/in/home`. An empty path is a `Config` error.
    pub fn file_path(&self) -> Result<PathBuf> {
        let path = self.path();
        let full = match self.host() {
            None => path,
            Some(".") => format!(".{path}"),
            Some("~") => {
                let home = std::env::var_os("HOME").ok_or_else(|| {
                    Error::new(
                        ErrorKind::Config,
                        "`~` in a store URL needs $HOME to be set",
                    )
                })?;
                return Ok(PathBuf::from(home).join(path.trim_start_matches('/')));
            }
            Some(host) => {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!(
                        "{}:// takes a local path (`{}:///absolute/path` or `{}://./relative`), not the host {host:?}",
                        self.scheme(),
                        self.scheme(),
                        self.scheme()
                    ),
                ));
            }
        };
        if full.is_empty() || full == "/" && self.url.path().is_empty() {
            return Err(Error::new(
                ErrorKind::Config,
                format!("{}:// needs a directory path", self.scheme()),
            ));
        }
        Ok(PathBuf::from(full))
    }

    /// The value of option `name` (`?name=value`), parsed; `None` if absent. A value that does
    /// not parse is a `Config` error naming the option.
    pub fn option<T: FromStr>(&self, name: &str) -> Result<Option<T>>
    where
        T::Err: fmt::Display,
    {
        match self.raw_option(name) {
            None => Ok(None),
            Some(v) => v.parse::<T>().map(Some).map_err(|e| {
                Error::new(
                    ErrorKind::Config,
                    format!("invalid value {v:?} for option `{name}`: {e}"),
                )
            }),
        }
    }

    /// A boolean option: `true/false`, `1/0`, `yes/no`, `on/off`; `None` if absent.
    pub fn flag(&self, name: &str) -> Result<Option<bool>> {
        match self.raw_option(name).as_deref() {
            None => Ok(None),
            Some("true" | "1" | "yes" | "on" | "") => Ok(Some(true)),
            Some("false" | "0" | "no" | "off") => Ok(Some(false)),
            Some(other) => Err(Error::new(
                ErrorKind::Config,
                format!("invalid value {other:?} for option `{name}`: expected true or false"),
            )),
        }
    }

    /// Rejects options not in `known` with a `Config` error listing the known ones.
    pub fn check_options(&self, known: &[&str]) -> Result<()> {
        for (name, _) in self.url.query_pairs() {
            if !known.contains(&name.as_ref()) {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!(
                        "unknown option `{name}` for {}:// (known: {})",
                        self.scheme(),
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The underlying parsed URL, for stores that need more.
    pub fn as_url(&self) -> &url::Url {
        &self.url
    }

    fn raw_option(&self, name: &str) -> Option<String> {
        self.url
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

fn decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// `text` with any password replaced by `***`.
fn redact(text: &str) -> String {
    match (text.find("://"), text.find('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &text[s + 3..at];
            match creds.find(':') {
                Some(colon) => format!("{}{}:***{}", &text[..s + 3], &creds[..colon], &text[at..]),
                None => text.to_string(),
            }
        }
        _ => text.to_string(),
    }
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = self.url.clone();
        if shown.password().is_some() {
            let _ = shown.set_password(Some("***"));
        }
        f.write_str(shown.as_str())
    }
}

impl fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreUrl({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        let url = StoreUrl::parse("redis://user:s3cr%40t@localhost:6379/0").unwrap();
        assert_eq!(url.password().as_deref(), Some("s3cr@t"));
        assert_eq!(url.username().as_deref(), Some("user"));
        assert!(!format!("{url} {url:?}").contains("s3cr"));
        let err = StoreUrl::parse("redis://user:s3cret@[bad").unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }

    #[test]
    fn file_paths() {
        let p = |s: &str| StoreUrl::parse(s).unwrap().file_path();
        assert_eq!(p("disk:///tmp/a%20b").unwrap(), PathBuf::from("/tmp/a b"));
        assert_eq!(p("disk://./data/x").unwrap(), PathBuf::from("./data/x"));
        assert!(p("disk://somehost/x").is_err());
        assert!(p("disk://").is_err());
    }

    #[test]
    fn options_are_typed() {
        let url = StoreUrl::parse("memory://?max=12&on=yes&bad=x").unwrap();
        assert_eq!(url.option::<usize>("max").unwrap(), Some(12));
        assert_eq!(url.flag("on").unwrap(), Some(true));
        assert_eq!(url.option::<usize>("missing").unwrap(), None);
        let err = url.option::<usize>("bad").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.to_string().contains("`bad`"));
        assert!(url.flag("bad").is_err());
        let err = url.check_options(&["max", "on"]).unwrap_err();
        assert!(err.to_string().contains("unknown option `bad`"), "{err}");
    }
}
