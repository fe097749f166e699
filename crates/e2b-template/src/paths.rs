//! [`IntoStrings`]: one value or several, for the steps that take either.

/// One string or several: `"numpy"`, `["numpy", "pandas"]`, `vec![…]`.
pub trait IntoStrings {
    /// The strings, in order.
    fn into_strings(self) -> Vec<String>;
}

impl IntoStrings for &str {
    fn into_strings(self) -> Vec<String> {
        vec![self.to_owned()]
    }
}

impl IntoStrings for String {
    fn into_strings(self) -> Vec<String> {
        vec![self]
    }
}

impl IntoStrings for &String {
    fn into_strings(self) -> Vec<String> {
        vec![self.clone()]
    }
}

impl IntoStrings for Vec<String> {
    fn into_strings(self) -> Vec<String> {
        self
    }
}

impl IntoStrings for Vec<&str> {
    fn into_strings(self) -> Vec<String> {
        self.into_iter().map(str::to_owned).collect()
    }
}

impl IntoStrings for &[&str] {
    fn into_strings(self) -> Vec<String> {
        self.iter().map(|s| (*s).to_owned()).collect()
    }
}

impl IntoStrings for &[String] {
    fn into_strings(self) -> Vec<String> {
        self.to_vec()
    }
}

impl<const N: usize> IntoStrings for [&str; N] {
    fn into_strings(self) -> Vec<String> {
        self.iter().map(|s| (*s).to_owned()).collect()
    }
}

impl<const N: usize> IntoStrings for [String; N] {
    fn into_strings(self) -> Vec<String> {
        self.into()
    }
}
