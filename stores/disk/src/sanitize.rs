//! MultiDiskStore's directory names: a port of `pathvalidate.sanitize_filename` (3.3.1).

/// The longest directory name, in bytes (pathvalidate's default `max_len`).
const MAX_LEN: usize = 255;

/// Windows' reserved device names, upper-case (pathvalidate's universal list; `:` is macOS's,
/// but it is always removed before the check).
const RESERVED: &[&str] = &[
    "CON", "PRN", "AUX", "CLOCK$", "NUL", "COM0", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6",
    "COM7", "COM8", "COM9", "LPT0", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8",
    "LPT9", "COM¹", "COM²", "COM³", "LPT¹", "LPT²", "LPT³", ":",
];

/// Python's `str.isspace`: Unicode `White_Space` plus the information separators U+001C to
/// U+001F.
fn py_isspace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

fn is_blank(s: &str) -> bool {
    s.chars().all(py_isspace)
}

fn is_forbidden(c: char) -> bool {
    matches!(
        c,
        '\u{0}'..='\u{1f}' | '\u{7f}' | '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|'
    )
}

/// `pathvalidate.sanitize_filename(name)` (pathvalidate 3.3.1) with py-key-value's arguments:
/// the name of collection `name`'s directory in a [`MultiDiskStore`](crate::MultiDiskStore).
///
/// py-key-value calls it with its defaults: the "universal" platform (the rules of Windows,
/// macOS and POSIX at once), a 255-byte limit, an empty replacement text. The steps, in
/// pathvalidate's order:
///
/// 1. A name that is empty or only whitespace (Python's `str.isspace`) becomes `""`.
/// 2. Every character Windows or POSIX forbids in a file name is removed: the control
///    characters U+0000 to U+001F and U+007F, and `/ \ : * ? " < > |`.
/// 3. The result is cut to at most 255 bytes of UTF-8, never inside a character.
/// 4. One validation error is fixed, the first found:
///    - a name left empty or blank becomes `""`;
///    - a reserved Windows device name (`CON`, `PRN`, `AUX`, `NUL`, `CLOCK$`, `COM0`-`COM9`,
///      `LPT0`-`LPT9`, `COM¹²³`, `LPT¹²³`, any case), as the whole name or the part before
///      the first `.`, gets an `_` appended to every occurrence of that part (`con.txt` →
///      `con_.txt`);
///    - a name that starts with a space or ends with a space or `.` is stripped of leading
///      spaces and trailing spaces and dots (`.` and `..` are kept as they are).
///
/// The mapping is lossy (`a/b` and `ab` both give `ab`): `MultiDiskStore` refuses a collection
/// whose directory already belongs to another collection instead of letting the two share
/// entries. It can also return `""`, `"."` or `".."` (for names such as `" "`, `"..."` or `" . "`), which
/// are not usable directory names: `MultiDiskStore` rejects those collections.
///
/// ```
/// use key_value_disk::sanitize_filename;
/// assert_eq!(sanitize_filename("users"), "users");
/// assert_eq!(sanitize_filename("a/b:c*"), "abc");
/// assert_eq!(sanitize_filename("con.txt"), "con_.txt");
/// assert_eq!(sanitize_filename(" name. "), "name");
/// assert_eq!(sanitize_filename("集合-🌍"), "集合-🌍");
/// ```
pub fn sanitize_filename(name: &str) -> String {
    if is_blank(name) {
        return String::new();
    }
    let mut out: String = name.chars().filter(|c| !is_forbidden(*c)).collect();
    if out.len() > MAX_LEN {
        let mut end = MAX_LEN;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
    }
    // Validation: the first error found is fixed, and only that one.
    if is_blank(&out) {
        return String::new();
    }
    let root = root_name(&out);
    if [root, out.as_str()]
        .iter()
        .any(|n| RESERVED.contains(&n.to_uppercase().as_str()))
    {
        // `re.sub(re.escape(root), root + "_", name)`; `root` is never "." or ".." here.
        let root = root.to_string();
        return out.replace(&root, &format!("{root}_"));
    }
    if out == "." || out == ".." {
        return out;
    }
    if out.ends_with([' ', '.']) || out.starts_with(' ') {
        let trimmed = out.trim_start_matches(' ').trim_end_matches(' ');
        if trimmed == "." || trimmed == ".." {
            return trimmed.to_string();
        }
        return trimmed.trim_end_matches([' ', '.']).to_string();
    }
    out
}

/// pathvalidate's "root name": the name itself for `.`, `..` and names starting with `...`;
/// otherwise the part before the first `.` (empty when the name starts with `.`).
fn root_name(name: &str) -> &str {
    if name == "." || name == ".." || name.starts_with("...") {
        return name;
    }
    match name.find('.') {
        Some(i) => &name[..i],
        None => name,
    }
}

/// Whether `sanitize_filename` gave a name that can be a collection's own directory.
pub(crate) fn usable_directory_name(name: &str) -> bool {
    !(name.is_empty() || name == "." || name == "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected values produced by pathvalidate 3.3.1 itself (see the interop test, which
    /// compares a longer list against Python at run time).
    #[test]
    fn matches_pathvalidate_outputs() {
        let cases = [
            ("users", "users"),
            ("test_collection!@#$%^&*()", "test_collection!@#$%^&()"),
            ("a/b", "ab"),
            ("a\\b:c", "abc"),
            ("tab\there", "tabhere"),
            ("CON", "CON_"),
            ("con", "con_"),
            ("con.txt", "con_.txt"),
            ("con.con", "con_.con_"),
            ("nul.icon", "nul_.icon"),
            ("COM1", "COM1_"),
            ("com¹", "com¹_"),
            ("CON.", "CON_."),
            ("console", "console"),
            (" lead", "lead"),
            ("trail. ", "trail"),
            ("trail...", "trail"),
            ("...", ""),
            (".", "."),
            ("..", ".."),
            (" . ", "."),
            ("   ", ""),
            ("", ""),
            ("\u{1c}", ""),
            (".hidden", ".hidden"),
            ("集合-🌍", "集合-🌍"),
            ("/", ""),
        ];
        for (input, expected) in cases {
            assert_eq!(sanitize_filename(input), expected, "{input:?}");
        }
    }

    #[test]
    fn truncates_to_255_bytes_on_a_char_boundary() {
        let long = "test_collection".repeat(100);
        assert_eq!(sanitize_filename(&long), long[..255]);
        let wide = "é".repeat(200); // 400 bytes
        let got = sanitize_filename(&wide);
        assert_eq!(got.len(), 254);
        assert!(got.chars().all(|c| c == 'é'));
    }

    #[test]
    fn unusable_names_are_flagged() {
        for bad in ["", ".", ".."] {
            assert!(!usable_directory_name(bad));
        }
        assert!(usable_directory_name("..."));
        assert!(usable_directory_name("a"));
    }
}
