//! GetRandomPassword: passwords drawn from the operating system's CSPRNG.

/// The punctuation characters AWS draws from.
pub const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

/// The options of a GetRandomPassword request, with AWS's defaults.
#[derive(Debug, Clone)]
pub struct Options {
    /// Length (1–4096, default 32).
    pub length: usize,
    /// Characters never used.
    pub exclude: String,
    /// No digits.
    pub exclude_numbers: bool,
    /// No punctuation.
    pub exclude_punctuation: bool,
    /// No uppercase letters.
    pub exclude_uppercase: bool,
    /// No lowercase letters.
    pub exclude_lowercase: bool,
    /// The space character may appear.
    pub include_space: bool,
    /// At least one character of every included type.
    pub require_each_included_type: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            length: 32,
            exclude: String::new(),
            exclude_numbers: false,
            exclude_punctuation: false,
            exclude_uppercase: false,
            exclude_lowercase: false,
            include_space: false,
            require_each_included_type: true,
        }
    }
}

/// Why a password cannot be generated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordError {
    /// Every character was excluded.
    NoCharacters,
    /// Fewer characters than the types that must each appear.
    TooShort,
    /// The operating system gave no randomness.
    Random,
}

fn random_below(n: usize) -> Result<usize, PasswordError> {
    // Rejection sampling over u32 keeps the choice uniform.
    let n32 = u32::try_from(n).map_err(|_| PasswordError::Random)?;
    let zone = u32::MAX - (u32::MAX % n32);
    loop {
        let mut b = [0u8; 4];
        getrandom::fill(&mut b).map_err(|_| PasswordError::Random)?;
        let v = u32::from_le_bytes(b);
        if v < zone {
            return Ok((v % n32) as usize);
        }
    }
}

/// Generate a password.
///
/// # Errors
/// When the options leave no character to choose, or leave fewer characters than required types.
pub fn generate(o: &Options) -> Result<String, PasswordError> {
    let mut classes: Vec<Vec<char>> = Vec::new();
    let keep = |c: &char| !o.exclude.contains(*c);
    if !o.exclude_lowercase {
        classes.push(('a'..='z').filter(keep).collect());
    }
    if !o.exclude_uppercase {
        classes.push(('A'..='Z').filter(keep).collect());
    }
    if !o.exclude_numbers {
        classes.push(('0'..='9').filter(keep).collect());
    }
    if !o.exclude_punctuation {
        classes.push(PUNCTUATION.chars().filter(keep).collect());
    }
    if o.include_space {
        classes.push([' '].into_iter().filter(keep).collect());
    }
    classes.retain(|c| !c.is_empty());
    let all: Vec<char> = classes.iter().flatten().copied().collect();
    if all.is_empty() {
        return Err(PasswordError::NoCharacters);
    }
    let mut out: Vec<char> = Vec::with_capacity(o.length);
    if o.require_each_included_type {
        if o.length < classes.len() {
            return Err(PasswordError::TooShort);
        }
        for class in &classes {
            out.push(class[random_below(class.len())?]);
        }
    }
    while out.len() < o.length {
        out.push(all[random_below(all.len())?]);
    }
    // Fisher–Yates, so the required characters are not at the front.
    for i in (1..out.len()).rev() {
        let j = random_below(i + 1)?;
        out.swap(i, j);
    }
    Ok(out.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_password_is_32_characters_with_every_type() {
        let p = generate(&Options::default()).expect("password");
        assert_eq!(p.chars().count(), 32);
        assert!(p.chars().any(|c| c.is_ascii_lowercase()));
        assert!(p.chars().any(|c| c.is_ascii_uppercase()));
        assert!(p.chars().any(|c| c.is_ascii_digit()));
        assert!(p.chars().any(|c| PUNCTUATION.contains(c)));
    }

    #[test]
    fn excluded_characters_and_types_never_appear() {
        let o = Options {
            length: 200,
            exclude: "abc".into(),
            exclude_punctuation: true,
            exclude_uppercase: true,
            include_space: true,
            ..Options::default()
        };
        let p = generate(&o).expect("password");
        assert!(!p.contains(['a', 'b', 'c']));
        assert!(p
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == ' '));
        assert!(p.contains(' '));
    }

    #[test]
    fn impossible_options_are_refused() {
        let none = Options {
            exclude_numbers: true,
            exclude_punctuation: true,
            exclude_uppercase: true,
            exclude_lowercase: true,
            ..Options::default()
        };
        assert_eq!(generate(&none), Err(PasswordError::NoCharacters));
        let short = Options {
            length: 2,
            ..Options::default()
        };
        assert_eq!(generate(&short), Err(PasswordError::TooShort));
    }
}
