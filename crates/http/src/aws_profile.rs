//! AWS named profiles: the shared `config` and `credentials` files of the AWS CLI and SDKs.
//!
//! [`credentials_from_environment`] and [`region_from_environment`] resolve what the DynamoDB
//! and S3 stores use when their configuration names nothing, in the SDKs' order:
//!
//! 1. the environment: `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`,
//!    `AWS_REGION` / `AWS_DEFAULT_REGION` (a store's explicit `profile` option skips the
//!    environment's keys, not its region, as boto3's `profile_name` does);
//! 2. the profile (the store's `profile`, else `AWS_PROFILE`, else `default`) in the
//!    credentials file (`AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`), then in the
//!    config file (`AWS_CONFIG_FILE`, else `~/.aws/config`, where it is `[profile NAME]` or
//!    `[default]`; `[profile default]` wins over `[default]`). A leading `~/` in those
//!    variables is the home directory. A named profile that neither file has is an error.
//!
//! Only static keys are read (`aws_access_key_id`, `aws_secret_access_key`,
//! `aws_session_token`, `region`). A profile that gets its credentials some other way is a
//! [`Config`](ErrorKind::Config) error that says so, never a silent fall-through to other
//! credentials: `role_arn`, `web_identity_token_file`, `sso_*` in either file (the SDKs
//! prefer these over static keys), or `credential_process` without keys in the credentials
//! file. `aws configure export-credentials --profile NAME --format env` turns such a profile
//! into environment variables this library reads. Instance metadata (EC2, ECS) is not read.
//!
//! ```
//! use key_value_http::aws_profile::Profiles;
//!
//! let profiles = Profiles::parse(
//!     "[default]\nregion = eu-west-1\n[profile ci]\nregion = us-east-2\n",
//!     "[ci]\naws_access_key_id = AKIDCI\naws_secret_access_key = s3cr3t\n",
//! );
//! let ci = profiles.credentials("ci")?.expect("the ci profile has keys");
//! assert_eq!(ci.access_key_id(), "AKIDCI");
//! assert_eq!(profiles.region("ci").as_deref(), Some("us-east-2"));
//! assert_eq!(profiles.region("default").as_deref(), Some("eu-west-1"));
//! # Ok::<(), key_value_core::Error>(())
//! ```

use std::collections::HashMap;
use std::path::PathBuf;

use key_value_core::{Error, ErrorKind, Result};

use crate::sigv4::Credentials;

/// Every AWS environment variable the DynamoDB and S3 stores read (credentials, region,
/// profile, files, endpoints): what a test clears to run without the machine's own settings.
pub const ENVIRONMENT_VARIABLES: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ENDPOINT_URL_S3",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
];

/// Profile settings that make the AWS SDKs get credentials in a way this library does not
/// (assumed roles, web identity, SSO); the SDKs prefer them over static keys.
const ROLE_SOURCES: [&str; 5] = [
    "role_arn",
    "web_identity_token_file",
    "sso_session",
    "sso_start_url",
    "credential_source",
];

/// The profiles of one config file and one credentials file.
#[derive(Default)]
pub struct Profiles {
    /// Profile name -> settings, from the credentials file (`[NAME]`).
    credentials_file: HashMap<String, HashMap<String, String>>,
    /// Profile name -> settings, from the config file (`[profile NAME]`, `[default]`).
    config_file: HashMap<String, HashMap<String, String>>,
}

impl std::fmt::Debug for Profiles {
    // Names only: the settings hold secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self
            .credentials_file
            .keys()
            .chain(self.config_file.keys())
            .collect();
        names.sort();
        names.dedup();
        f.debug_struct("Profiles").field("names", &names).finish()
    }
}

impl Profiles {
    /// Parses the text of a config file and of a credentials file (either may be empty).
    pub fn parse(config_text: &str, credentials_text: &str) -> Self {
        let mut sections = parse_ini(config_text);
        // `[default]` or `[profile NAME]`; other sections (`[sso-session x]`, `[services x]`)
        // are not profiles. `[profile default]`, when present too, wins over `[default]`.
        let plain_default = sections.remove("default");
        let mut config_file: HashMap<String, HashMap<String, String>> = sections
            .into_iter()
            .filter_map(|(section, settings)| {
                let name = section.strip_prefix("profile ")?.trim().to_string();
                Some((name, settings))
            })
            .collect();
        if let Some(settings) = plain_default {
            config_file.entry("default".to_string()).or_insert(settings);
        }
        Profiles {
            credentials_file: parse_ini(credentials_text),
            config_file,
        }
    }

    /// Reads the files the environment names (or the defaults under the home directory); a
    /// missing file counts as empty.
    pub fn from_files() -> Result<Self> {
        let read = |var: &str, default: &str| -> Result<String> {
            let path = match std::env::var_os(var).filter(|v| !v.is_empty()) {
                // A leading `~/` is the home directory, as the AWS CLI reads it.
                Some(p) => match (
                    p.to_str().and_then(|p| p.strip_prefix("~/")),
                    dirs::home_dir(),
                ) {
                    (Some(rest), Some(home)) => home.join(rest),
                    _ => PathBuf::from(p),
                },
                None => match dirs::home_dir() {
                    Some(home) => home.join(".aws").join(default),
                    None => return Ok(String::new()),
                },
            };
            match std::fs::read_to_string(&path) {
                Ok(text) => Ok(text),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
                Err(e) => Err(Error::new(
                    ErrorKind::Config,
                    format!("cannot read the AWS file {}: {e}", path.display()),
                )),
            }
        };
        Ok(Profiles::parse(
            &read("AWS_CONFIG_FILE", "config")?,
            &read("AWS_SHARED_CREDENTIALS_FILE", "credentials")?,
        ))
    }

    /// Whether either file has a profile of this name.
    pub fn contains(&self, profile: &str) -> bool {
        self.credentials_file.contains_key(profile) || self.config_file.contains_key(profile)
    }

    /// The static credentials of `profile`, in the order of the AWS SDKs' provider chain:
    /// a role, web identity or SSO setting in either file comes first (and is an error here,
    /// being unsupported), then keys in the credentials file, then a `credential_process`
    /// (unsupported), then keys in the config file. `Ok(None)` when neither file has the
    /// profile or it holds no credentials at all; an error for half a key pair.
    pub fn credentials(&self, profile: &str) -> Result<Option<Credentials>> {
        let files = [
            ("credentials", self.credentials_file.get(profile)),
            ("config", self.config_file.get(profile)),
        ];
        let unsupported = |keys: &[&str]| -> Result<()> {
            for (_, settings) in files {
                let Some(settings) = settings else { continue };
                if let Some(source) = keys.iter().find(|k| settings.contains_key(**k)) {
                    return Err(Error::new(
                        ErrorKind::Config,
                        format!(
                            "AWS profile {profile:?} gets its credentials through `{source}`, \
                             which this library does not support; export them instead (`aws \
                             configure export-credentials --profile {profile} --format env`) or \
                             pass them in the store's configuration"
                        ),
                    ));
                }
            }
            Ok(())
        };
        let keys =
            |file: &str, settings: &HashMap<String, String>| -> Result<Option<Credentials>> {
                let get = |k: &str| settings.get(k).filter(|v| !v.is_empty());
                match (get("aws_access_key_id"), get("aws_secret_access_key")) {
                    (Some(id), Some(secret)) => {
                        let mut creds = Credentials::new(id.clone(), secret.clone());
                        if let Some(token) = get("aws_session_token") {
                            creds = creds.with_session_token(token.clone());
                        }
                        Ok(Some(creds))
                    }
                    (None, None) => Ok(None),
                    _ => Err(Error::new(
                        ErrorKind::Config,
                        format!(
                            "AWS profile {profile:?} in the {file} file has only one of \
                         aws_access_key_id and aws_secret_access_key"
                        ),
                    )),
                }
            };
        unsupported(&ROLE_SOURCES)?;
        if let Some(settings) = files[0].1 {
            if let Some(creds) = keys("credentials", settings)? {
                return Ok(Some(creds));
            }
        }
        unsupported(&["credential_process"])?;
        match files[1].1 {
            Some(settings) => keys("config", settings),
            None => Ok(None),
        }
    }

    /// The `region` of `profile` in the config file (or, as some tools write it, the
    /// credentials file).
    pub fn region(&self, profile: &str) -> Option<String> {
        [
            self.config_file.get(profile),
            self.credentials_file.get(profile),
        ]
        .into_iter()
        .flatten()
        .find_map(|settings| settings.get("region").filter(|r| !r.is_empty()).cloned())
    }
}

/// The profile to read: `explicit` (a store's `profile` option), else `AWS_PROFILE`, else
/// `default`; and whether it was named (a named profile must exist).
fn selected_profile(explicit: Option<&str>) -> (String, bool) {
    if let Some(p) = explicit {
        return (p.to_string(), true);
    }
    match std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty()) {
        Some(p) => (p, true),
        None => ("default".to_string(), false),
    }
}

/// Credentials for a store whose configuration has none.
///
/// With `profile` (the store's `profile` option) they come from that profile only, as with
/// boto3's `Session(profile_name=...)`. Without it: the environment variables, else the
/// profile `AWS_PROFILE` (or `default`) selects; see the [module docs](self). `Ok(None)` when
/// none are found anywhere.
///
/// # Errors
/// [`ErrorKind::Config`] when a named profile (`profile` or `AWS_PROFILE`) is in neither file,
/// when the profile holds half a key pair or an unsupported credential source, or when a file
/// exists but cannot be read.
pub fn credentials_from_environment(profile: Option<&str>) -> Result<Option<Credentials>> {
    if profile.is_none() {
        if let Some(creds) = Credentials::from_env() {
            return Ok(Some(creds));
        }
    }
    let (name, named) = selected_profile(profile);
    let profiles = Profiles::from_files()?;
    if named && !profiles.contains(&name) {
        return Err(missing_profile(&name, profile.is_some()));
    }
    profiles.credentials(&name)
}

/// The region for a store whose configuration has none: `AWS_REGION` / `AWS_DEFAULT_REGION`,
/// else the `region` of `profile` (or of the profile `AWS_PROFILE` / `default` selects) in the
/// config file. `Ok(None)` when none is set anywhere.
///
/// # Errors
/// [`ErrorKind::Config`] when a file exists but cannot be read.
pub fn region_from_environment(profile: Option<&str>) -> Result<Option<String>> {
    if let Some(region) = crate::sigv4::region_from_env() {
        return Ok(Some(region));
    }
    let (name, named) = selected_profile(profile);
    let profiles = Profiles::from_files()?;
    if named && !profiles.contains(&name) {
        return Err(missing_profile(&name, profile.is_some()));
    }
    Ok(profiles.region(&name))
}

/// The error for a profile that was named (`explicit`: by the store's configuration, else by
/// `AWS_PROFILE`) but is in neither file.
fn missing_profile(name: &str, explicit: bool) -> Error {
    let whose = if explicit {
        "the store's configuration names"
    } else {
        "AWS_PROFILE names"
    };
    Error::new(
        ErrorKind::Config,
        format!(
            "{whose} the AWS profile {name:?}, but neither the AWS credentials file nor the \
             config file has it"
        ),
    )
}

/// The sections of an INI file as the AWS tools write it: `[section]`, `key = value`, full-line
/// `#`/`;` comments; indented lines under a key with no value (nested settings such as
/// `s3 =`) are skipped. A repeated section adds to the first; a repeated key keeps the last.
fn parse_ini(text: &str) -> HashMap<String, HashMap<String, String>> {
    let mut sections: HashMap<String, HashMap<String, String>> = HashMap::new();
    let mut current: Option<String> = None;
    // After `key =` with nothing after it, indented lines are that key's nested settings.
    let mut in_nested = false;
    for line in text.lines() {
        let indented = line.starts_with([' ', '\t']);
        let line = line.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim().to_string();
            sections.entry(name.clone()).or_default();
            current = Some(name);
            in_nested = false;
            continue;
        }
        if indented && in_nested {
            continue;
        }
        let (Some(section), Some((key, value))) = (&current, line.split_once('=')) else {
            continue;
        };
        let value = value.trim();
        in_nested = value.is_empty();
        sections
            .entry(section.clone())
            .or_default()
            .insert(key.trim().to_ascii_lowercase(), value.to_string());
    }
    sections
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "\
# a comment
[default]
region = eu-west-1
s3 =
    addressing_style = path

[profile ci]
region=us-east-2
aws_access_key_id = AKIDFROMCONFIG
aws_secret_access_key = config-secret

[profile assumed]
role_arn = arn:aws:iam::123456789012:role/x
source_profile = default

[profile sso]
sso_session = corp

[sso-session corp]
sso_region = us-east-1
";

    const CREDENTIALS: &str = "\
[default]
aws_access_key_id = AKIDDEFAULT
aws_secret_access_key = default-secret

; temporary credentials
[temp]
aws_access_key_id = ASIATEMP
aws_secret_access_key = temp-secret
aws_session_token = temp-token

[half]
aws_access_key_id = AKIDHALF
";

    fn profiles() -> Profiles {
        Profiles::parse(CONFIG, CREDENTIALS)
    }

    #[test]
    fn credentials_file_first_then_config_file() {
        let p = profiles();
        let default = p.credentials("default").unwrap().unwrap();
        assert_eq!(default, Credentials::new("AKIDDEFAULT", "default-secret"));
        let ci = p.credentials("ci").unwrap().unwrap();
        assert_eq!(ci, Credentials::new("AKIDFROMCONFIG", "config-secret"));
        let temp = p.credentials("temp").unwrap().unwrap();
        assert_eq!(
            temp,
            Credentials::new("ASIATEMP", "temp-secret").with_session_token("temp-token")
        );
        assert_eq!(p.credentials("nobody").unwrap(), None);
    }

    #[test]
    fn regions_come_from_the_config_file() {
        let p = profiles();
        assert_eq!(p.region("default").as_deref(), Some("eu-west-1"));
        assert_eq!(p.region("ci").as_deref(), Some("us-east-2"));
        assert_eq!(p.region("temp"), None);
        // `[sso-session corp]` is not a profile; nested `s3 =` settings are not keys.
        assert!(!p.contains("corp"));
        assert!(!p.contains("sso-session corp"));
        assert!(!p.config_file["default"].contains_key("addressing_style"));
    }

    #[test]
    fn unsupported_sources_and_half_pairs_are_errors() {
        let p = profiles();
        let err = p.credentials("assumed").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.message().contains("role_arn"), "{err}");
        assert!(err.message().contains("export-credentials"), "{err}");
        let err = p.credentials("sso").unwrap_err();
        assert!(err.message().contains("sso_session"), "{err}");
        let err = p.credentials("half").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.message().contains("only one of"), "{err}");
        // No secret in any message.
        assert!(!err.message().contains("AKIDHALF"), "{err}");
    }

    #[test]
    fn roles_beat_static_keys_and_credential_process_loses_to_the_credentials_file() {
        // Keys in the credentials file, a role in the config file: the SDKs assume the role,
        // so using the keys would be a different identity.
        let p = Profiles::parse(
            "[profile x]\nrole_arn = arn:aws:iam::1:role/r\n[profile y]\ncredential_process = /bin/creds\n\
             [profile z]\ncredential_process = /bin/creds\naws_access_key_id = A\naws_secret_access_key = B\n",
            "[x]\naws_access_key_id = AKIDX\naws_secret_access_key = sx\n\
             [y]\naws_access_key_id = AKIDY\naws_secret_access_key = sy\n",
        );
        assert!(
            p.credentials("x")
                .unwrap_err()
                .message()
                .contains("role_arn")
        );
        assert_eq!(
            p.credentials("y").unwrap(),
            Some(Credentials::new("AKIDY", "sy"))
        );
        let err = p.credentials("z").unwrap_err();
        assert!(err.message().contains("credential_process"), "{err}");
    }

    #[test]
    fn profile_default_wins_over_default_and_indented_keys_count() {
        let p = Profiles::parse(
            "[profile default]\nregion = eu-west-3\n[default]\nregion = us-west-1\n",
            "[default]\n  aws_access_key_id = AKIDINDENTED\n  aws_secret_access_key = s\n",
        );
        for _ in 0..20 {
            // Not an accident of hash order.
            let again = Profiles::parse(
                "[default]\nregion = us-west-1\n[profile default]\nregion = eu-west-3\n",
                "",
            );
            assert_eq!(again.region("default").as_deref(), Some("eu-west-3"));
        }
        assert_eq!(p.region("default").as_deref(), Some("eu-west-3"));
        assert_eq!(
            p.credentials("default").unwrap(),
            Some(Credentials::new("AKIDINDENTED", "s"))
        );
    }

    #[test]
    fn debug_shows_names_only() {
        let shown = format!("{:?}", profiles());
        assert!(shown.contains("\"ci\""), "{shown}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(!shown.contains("AKID"), "{shown}");
    }

    #[test]
    fn odd_input_does_not_panic() {
        for text in [
            "[",
            "]",
            "=",
            "[x",
            "key = value",
            "[a]\n=\n==\n[ ]\nk=v=w",
            "\u{feff}[a]",
        ] {
            let p = Profiles::parse(text, text);
            let _ = p.credentials("a");
            let _ = p.region("a");
        }
        let p = Profiles::parse("", "[a]\nk=v=w\n");
        assert_eq!(p.credentials_file["a"]["k"], "v=w");
    }
}
