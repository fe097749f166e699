//! The repository README's table of examples names every example of this crate.

#[test]
fn readme_lists_every_example() {
    let readme = include_str!("../../README.md");
    let manifest = include_str!("../Cargo.toml");
    let mut examples = manifest
        .split("[[example]]")
        .skip(1)
        .filter_map(|target| {
            let line = target
                .lines()
                .find(|l| l.trim_start().starts_with("name"))?;
            Some(line.split('"').nth(1)?.to_owned())
        })
        .peekable();
    assert!(
        examples.peek().is_some(),
        "no [[example]] in examples/Cargo.toml"
    );
    for name in examples {
        assert!(
            readme.contains(&format!("| `{name}` |")),
            "README.md's table of examples does not list `{name}`"
        );
    }
}
