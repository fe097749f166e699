//! Import of a single-stage Dockerfile into a template, mapped as the official SDKs map
//! it. Parsing is `parse-dockerfile`'s; the mapping (flags, word processing, start
//! command) is upstream's.

use std::collections::HashMap;

use e2b_core::{Error, Result};
use parse_dockerfile::{Command, Flag, Instruction, Source};

use crate::quote::{join as shell_join, quote};
use crate::ready::wait_for_timeout;
use crate::shell::{Vars, parse_words, process_word};
use crate::template::{CopyOptions, TemplateBuilder};

fn syntax(message: impl std::fmt::Display, line: Option<usize>) -> Error {
    match line {
        Some(line) => Error::invalid_argument(format!("Dockerfile line {line}: {message}")),
        None => Error::invalid_argument(format!("Dockerfile: {message}")),
    }
}

/// A flag's type and whether it is accepted but ignored (with a warning).
type FlagSpec = (&'static str, bool, bool);

const RUN_FLAGS: &[FlagSpec] = &[
    ("mount", false, true),
    ("network", false, true),
    ("security", false, true),
    ("device", false, true),
];
const COPY_FLAGS: &[FlagSpec] = &[
    ("chown", false, false),
    ("chmod", false, false),
    ("from", false, false),
    ("link", true, true),
    ("exclude", false, true),
    ("parents", true, true),
];
const ADD_ONLY_FLAGS: &[FlagSpec] = &[
    ("keep-git-dir", true, true),
    ("checksum", false, true),
    ("unpack", true, true),
];
const FROM_FLAGS: &[FlagSpec] = &[("platform", false, true)];

struct StartCommand {
    exec: bool,
    args: Vec<String>,
}

struct Converter<'t> {
    text: &'t str,
    escape: char,
    vars: HashMap<String, String>,
    user_changed: bool,
    workdir_changed: bool,
    cmd: Option<StartCommand>,
    entrypoint: Option<StartCommand>,
}

/// Import `content` into `builder` (whose base is replaced); returns the base image.
pub(crate) fn import(content: &str, builder: &mut TemplateBuilder) -> Result<String> {
    let dockerfile = parse_dockerfile::parse(content).map_err(|e| {
        let hint = if content.contains("<<") {
            " (a heredoc is supported only at the start of a RUN command, as in `RUN <<EOF`)"
        } else {
            ""
        };
        syntax(format!("{e}{hint}"), None)
    })?;
    let escape = dockerfile
        .parser_directives
        .escape
        .as_ref()
        .map_or('\\', |d| d.value.value);
    let mut converter = Converter {
        text: content,
        escape,
        vars: HashMap::new(),
        user_changed: false,
        workdir_changed: false,
        cmd: None,
        entrypoint: None,
    };
    let froms: Vec<&parse_dockerfile::FromInstruction<'_>> = dockerfile
        .instructions
        .iter()
        .filter_map(|i| match i {
            Instruction::From(f) => Some(f),
            _ => None,
        })
        .collect();
    if froms.len() > 1 {
        return Err(syntax("multi-stage Dockerfiles are not supported", None));
    }
    let Some(from) = froms.first() else {
        return Err(syntax(
            "the Dockerfile must contain a FROM instruction",
            None,
        ));
    };
    let from_line = converter.line(from.from.span.start);
    converter.flags(&from.options, FROM_FLAGS, "FROM", from_line)?;
    let base = converter.word(&from.image.value, from_line)?;

    let mut b = std::mem::replace(builder, crate::Template::new().from_base_image());
    b = b.set_user("root").set_workdir("/");
    for instruction in &dockerfile.instructions {
        b = converter.instruction(instruction, from.from.span.start, b)?;
    }
    b = converter.apply_start_cmd(b);
    if !converter.user_changed {
        b = b.set_user("user");
    }
    if !converter.workdir_changed {
        b = b.set_workdir("/home/user");
    }
    *builder = b;
    Ok(base)
}

fn instruction_name(instruction: &Instruction<'_>) -> &'static str {
    match instruction {
        Instruction::Add(_) => "ADD",
        Instruction::Arg(_) => "ARG",
        Instruction::Cmd(_) => "CMD",
        Instruction::Copy(_) => "COPY",
        Instruction::Entrypoint(_) => "ENTRYPOINT",
        Instruction::Env(_) => "ENV",
        Instruction::Expose(_) => "EXPOSE",
        Instruction::From(_) => "FROM",
        Instruction::Healthcheck(_) => "HEALTHCHECK",
        Instruction::Label(_) => "LABEL",
        Instruction::Maintainer(_) => "MAINTAINER",
        Instruction::Onbuild(_) => "ONBUILD",
        Instruction::Run(_) => "RUN",
        Instruction::Shell(_) => "SHELL",
        Instruction::Stopsignal(_) => "STOPSIGNAL",
        Instruction::User(_) => "USER",
        Instruction::Volume(_) => "VOLUME",
        Instruction::Workdir(_) => "WORKDIR",
        _ => "UNKNOWN",
    }
}

fn instruction_start(instruction: &Instruction<'_>) -> usize {
    match instruction {
        Instruction::Add(i) => i.add.span.start,
        Instruction::Arg(i) => i.arg.span.start,
        Instruction::Cmd(i) => i.cmd.span.start,
        Instruction::Copy(i) => i.copy.span.start,
        Instruction::Entrypoint(i) => i.entrypoint.span.start,
        Instruction::Env(i) => i.env.span.start,
        Instruction::Expose(i) => i.expose.span.start,
        Instruction::From(i) => i.from.span.start,
        Instruction::Healthcheck(i) => i.healthcheck.span.start,
        Instruction::Label(i) => i.label.span.start,
        Instruction::Maintainer(i) => i.maintainer.span.start,
        Instruction::Onbuild(i) => i.onbuild.span.start,
        Instruction::Run(i) => i.run.span.start,
        Instruction::Shell(i) => i.shell.span.start,
        Instruction::Stopsignal(i) => i.stopsignal.span.start,
        Instruction::User(i) => i.user.span.start,
        Instruction::Volume(i) => i.volume.span.start,
        Instruction::Workdir(i) => i.workdir.span.start,
        _ => 0,
    }
}

impl Converter<'_> {
    fn line(&self, offset: usize) -> Option<usize> {
        Some(
            self.text[..offset.min(self.text.len())]
                .matches('\n')
                .count()
                + 1,
        )
    }

    fn word(&self, word: &str, line: Option<usize>) -> Result<String> {
        process_word(word, self.escape, Vars::Keep).map_err(|e| syntax(e, line))
    }

    fn value(&self, word: &str, line: Option<usize>) -> Result<String> {
        process_word(word, self.escape, Vars::Expand(&self.vars)).map_err(|e| syntax(e, line))
    }

    fn flags(
        &self,
        flags: &[Flag<'_>],
        specs: &[FlagSpec],
        instruction: &str,
        line: Option<usize>,
    ) -> Result<HashMap<String, String>> {
        let mut values = HashMap::new();
        let mut seen = std::collections::HashSet::new();
        for flag in flags {
            let name = flag.name.value.as_ref();
            let Some((_, is_bool, ignored)) = specs.iter().find(|(n, _, _)| *n == name) else {
                return Err(syntax(format!("unknown flag: {name}"), line));
            };
            if !seen.insert(name.to_owned()) {
                return Err(syntax(format!("duplicate flag specified: {name}"), line));
            }
            let raw = flag.value.as_ref().map(|v| v.value.as_ref());
            let value = if *is_bool {
                match raw {
                    None | Some("" | "true") => "true".to_owned(),
                    Some("false") => "false".to_owned(),
                    Some(other) => {
                        return Err(syntax(
                            format!("expecting boolean value for flag {name}, not: {other}"),
                            line,
                        ));
                    }
                }
            } else {
                match raw {
                    None => return Err(syntax(format!("missing a value on flag: {name}"), line)),
                    Some(v) => v.to_owned(),
                }
            };
            if *ignored {
                tracing::warn!(
                    "ignoring unsupported {instruction} flag --{name} (line {})",
                    line.unwrap_or(0)
                );
                continue;
            }
            values.insert(name.to_owned(), value);
        }
        Ok(values)
    }

    fn instruction(
        &mut self,
        instruction: &Instruction<'_>,
        from_start: usize,
        b: TemplateBuilder,
    ) -> Result<TemplateBuilder> {
        let name = instruction_name(instruction);
        let start = instruction_start(instruction);
        let line = self.line(start);
        if matches!(instruction, Instruction::From(_)) {
            return Ok(b);
        }
        if start < from_start && !matches!(instruction, Instruction::Arg(_)) {
            return Err(syntax(
                format!("{name} must be preceded by a FROM instruction"),
                line,
            ));
        }
        Ok(match instruction {
            Instruction::Run(run) => {
                self.flags(&run.options, RUN_FLAGS, "RUN", line)?;
                let command = match &run.arguments {
                    Command::Exec(args) => {
                        let words: Vec<&str> =
                            args.value.iter().map(|a| a.value.as_ref()).collect();
                        if words.is_empty() {
                            return Err(syntax("RUN requires at least one argument", line));
                        }
                        shell_join(&words)
                    }
                    Command::Shell(shell) if run.here_docs.is_empty() => {
                        let command = join_continuations(shell.value, self.escape);
                        if command.trim().is_empty() {
                            return Err(syntax("RUN requires at least one argument", line));
                        }
                        command
                    }
                    Command::Shell(_) => self.run_with_heredocs(run, line)?,
                    _ => return Err(syntax("unsupported RUN form", line)),
                };
                b.run_cmd(command)
            }
            Instruction::Copy(copy) => {
                let words = self.copy_words(&copy.src, &copy.dest, "COPY", line)?;
                self.copy("COPY", &copy.options, COPY_FLAGS, words, line, b)?
            }
            Instruction::Add(add) => {
                let specs: Vec<FlagSpec> =
                    COPY_FLAGS.iter().chain(ADD_ONLY_FLAGS).copied().collect();
                let words = self.copy_words(&add.src, &add.dest, "ADD", line)?;
                self.copy("ADD", &add.options, &specs, words, line, b)?
            }
            Instruction::Workdir(w) => {
                self.workdir_changed = true;
                b.set_workdir(self.single(&w.arguments.value, "WORKDIR", line)?)
            }
            Instruction::User(u) => {
                self.user_changed = true;
                b.set_user(self.single(&u.arguments.value, "USER", line)?)
            }
            Instruction::Env(env) => {
                let pairs = self.env_pairs(&env.arguments.value, line)?;
                b.set_envs(pairs)
            }
            Instruction::Arg(arg) => {
                let mut pairs: Vec<(String, String)> = Vec::new();
                let words = parse_words(&arg.arguments.value, self.escape);
                if words.is_empty() {
                    return Err(syntax("ARG requires at least one argument", line));
                }
                for word in words {
                    let (name, value) = match word.split_once('=') {
                        Some((n, v)) => (n, Some(v)),
                        None => (word.as_str(), None),
                    };
                    let key = self.word(name, line)?;
                    if key.is_empty() {
                        return Err(syntax("ARG names can not be blank", line));
                    }
                    let shown = match value {
                        Some(v) => self.word(v, line)?,
                        None => String::new(),
                    };
                    let known = match value {
                        Some(v) => self.value(v, line)?,
                        None => String::new(),
                    };
                    self.vars.insert(key.clone(), known);
                    upsert(&mut pairs, key, shown);
                }
                b.set_envs(pairs)
            }
            Instruction::Cmd(cmd) => {
                self.cmd = Some(self.start_command(&cmd.arguments));
                b
            }
            Instruction::Entrypoint(e) => {
                self.entrypoint = Some(self.start_command(&e.arguments));
                b
            }
            Instruction::Expose(_)
            | Instruction::Volume(_)
            | Instruction::Label(_)
            | Instruction::Maintainer(_) => b,
            _ => {
                tracing::warn!(
                    "unsupported Dockerfile instruction {name} (line {}), skipped",
                    line.unwrap_or(0)
                );
                b
            }
        })
    }

    fn single(&self, value: &str, name: &str, line: Option<usize>) -> Result<String> {
        let words = parse_words(value, self.escape);
        if words.len() != 1 {
            return Err(syntax(
                format!("{name} requires exactly one argument"),
                line,
            ));
        }
        self.word(&words[0], line)
    }

    fn env_pairs(&mut self, arguments: &str, line: Option<usize>) -> Result<Vec<(String, String)>> {
        let words = parse_words(arguments, self.escape);
        let Some(first) = words.first() else {
            return Err(syntax("ENV requires at least one argument", line));
        };
        let raw: Vec<(String, String)> = if first.contains('=') {
            words
                .iter()
                .map(|w| {
                    w.split_once('=')
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .ok_or_else(|| {
                            syntax(
                                format!(
                                    "syntax error - can't find = in {w:?}; must be of the form: name=value"
                                ),
                                line,
                            )
                        })
                })
                .collect::<Result<_>>()?
        } else {
            // The legacy form: `ENV NAME value with spaces`.
            let trimmed = arguments.trim_start();
            let split = trimmed
                .find(char::is_whitespace)
                .ok_or_else(|| syntax("ENV must have two arguments", line))?;
            vec![(
                trimmed[..split].to_owned(),
                trimmed[split..].trim_start().to_owned(),
            )]
        };
        let mut pairs = Vec::new();
        for (k, v) in raw {
            let key = self.word(&k, line)?;
            if key.is_empty() {
                return Err(syntax("ENV names can not be blank", line));
            }
            let known = self.value(&v, line)?;
            self.vars.insert(key.clone(), known);
            upsert(&mut pairs, key, self.word(&v, line)?);
        }
        Ok(pairs)
    }

    fn start_command(&self, command: &Command<'_>) -> StartCommand {
        match command {
            Command::Exec(args) => StartCommand {
                exec: true,
                args: args.value.iter().map(|a| a.value.to_string()).collect(),
            },
            Command::Shell(shell) => StartCommand {
                exec: false,
                args: vec![join_continuations(shell.value, self.escape)],
            },
            _ => StartCommand {
                exec: false,
                args: Vec::new(),
            },
        }
    }

    /// The raw words of a `COPY`/`ADD` (sources, then the destination), split as Docker
    /// splits them: a JSON array, or words with quotes kept together.
    fn copy_words(
        &self,
        sources: &[Source<'_>],
        dest: &parse_dockerfile::UnescapedString<'_>,
        name: &str,
        line: Option<usize>,
    ) -> Result<Vec<String>> {
        let mut start = dest.span.start;
        for source in sources {
            match source {
                Source::Path(path) => start = start.min(path.span.start),
                _ => {
                    return Err(syntax(
                        format!("{name} from a heredoc is not supported; write the file with RUN"),
                        line,
                    ));
                }
            }
        }
        let raw = self.text[start..dest.span.end.min(self.text.len())].trim();
        if raw.starts_with('[')
            && let Ok(words) = serde_json::from_str::<Vec<String>>(raw)
        {
            return Ok(words);
        }
        // Line continuations inside the arguments are whitespace.
        Ok(parse_words(
            &join_continuations(raw, self.escape),
            self.escape,
        ))
    }

    fn copy(
        &self,
        name: &str,
        flags: &[Flag<'_>],
        specs: &[FlagSpec],
        mut words: Vec<String>,
        line: Option<usize>,
        mut b: TemplateBuilder,
    ) -> Result<TemplateBuilder> {
        let flags = self.flags(flags, specs, name, line)?;
        if words.len() < 2 {
            return Err(syntax(
                format!("{name} requires at least two arguments"),
                line,
            ));
        }
        let dest = words.pop().unwrap_or_default();
        if flags.contains_key("from") {
            return Err(syntax(
                format!("{name} --from is not supported (multi-stage builds are not supported)"),
                line,
            ));
        }
        let user = match flags.get("chown") {
            Some(chown) => Some(self.word(chown, line)?),
            None => None,
        };
        let mode = match flags.get("chmod") {
            Some(chmod) => {
                let shown = self.word(chmod, line)?;
                let resolved = self.value(chmod, line)?;
                let valid = (3..=4).contains(&resolved.len())
                    && resolved.bytes().all(|c| (b'0'..=b'7').contains(&c));
                if !valid {
                    let detail = if resolved == shown {
                        String::new()
                    } else {
                        format!(" (resolves to \"{resolved}\")")
                    };
                    return Err(syntax(
                        format!(
                            "invalid chmod value \"{shown}\"{detail}, expected an octal mode such as 0755"
                        ),
                        line,
                    ));
                }
                Some(u32::from_str_radix(&resolved, 8).unwrap_or(0))
            }
            None => None,
        };
        if dest.starts_with("<<") {
            return Err(syntax(
                format!("{name} cannot accept a heredoc as a destination"),
                line,
            ));
        }
        let dest = self.word(&dest, line)?;
        for source in words {
            if source.starts_with("<<") {
                return Err(syntax(
                    format!("{name} from a heredoc is not supported; write the file with RUN"),
                    line,
                ));
            }
            let src = self.word(&source, line)?;
            if name == "ADD" && is_remote_url(&src) {
                return Err(syntax(
                    format!("ADD from a remote URL is not supported: {src}"),
                    line,
                ));
            }
            let mut options = CopyOptions::new();
            options.user = user.clone();
            options.mode = mode;
            b = b.copy_with(src, dest.clone(), options);
        }
        Ok(b)
    }

    fn run_with_heredocs(
        &self,
        run: &parse_dockerfile::RunInstruction<'_>,
        line: Option<usize>,
    ) -> Result<String> {
        // The command line itself, after the keyword and flags, up to the newline.
        let start = run
            .options
            .iter()
            .map(|f| f.span().end)
            .fold(run.run.span.end, usize::max);
        let rest = &self.text[start.min(self.text.len())..];
        let first_line = rest.split('\n').next().unwrap_or("").trim();
        let names = heredoc_names(first_line);
        if run.here_docs.len() == 1
            && is_lone_marker(first_line)
            && let Some(name) = names.first()
        {
            let mut content = run.here_docs[0].value.to_string();
            if !content.starts_with("#!") {
                return Ok(content);
            }
            // A script with a shebang: written to a file and executed.
            let script = quote(&format!("/tmp/{name}"));
            let terminator = heredoc_terminator(name, &content);
            if !content.is_empty() && !content.ends_with('\n') {
                content.push('\n');
            }
            return Ok(format!(
                "cat <<'{terminator}' >{script}\n{content}{terminator}\nchmod +x {script} && {script}\nE2B_EXIT=$?; rm -f {script}; exit $E2B_EXIT"
            ));
        }
        if names.len() != run.here_docs.len() {
            return Err(syntax(
                "cannot match the heredocs of RUN to their markers",
                line,
            ));
        }
        // The heredocs are part of a larger command: rebuilt for the shell to handle.
        let mut full = first_line.to_owned();
        for (doc, name) in run.here_docs.iter().zip(&names) {
            full.push('\n');
            full.push_str(&doc.value);
            full.push_str(name);
        }
        Ok(full)
    }

    fn apply_start_cmd(&self, mut b: TemplateBuilder) -> TemplateBuilder {
        let command = match (&self.entrypoint, &self.cmd) {
            (Some(entrypoint), cmd) if entrypoint.exec => {
                let mut words = entrypoint.args.clone();
                match cmd {
                    Some(cmd) if cmd.exec => words.extend(cmd.args.iter().cloned()),
                    Some(cmd) if !cmd.args.is_empty() => {
                        words.extend(["/bin/sh".to_owned(), "-c".to_owned(), cmd.args[0].clone()]);
                    }
                    _ => {}
                }
                (!words.is_empty()).then(|| shell_join(&words))
            }
            (Some(entrypoint), _) => entrypoint.args.first().cloned(),
            (None, Some(cmd)) if cmd.exec => (!cmd.args.is_empty()).then(|| shell_join(&cmd.args)),
            (None, Some(cmd)) => cmd.args.first().cloned(),
            (None, None) => None,
        };
        if let Some(command) = command.filter(|c| !c.trim().is_empty()) {
            b.state.start_cmd = Some(command);
            b.state.ready_cmd = Some(
                wait_for_timeout(std::time::Duration::from_secs(20))
                    .command()
                    .to_owned(),
            );
        }
        b
    }
}

/// Replace or append, keeping the first position (a Python dict's order).
fn upsert(pairs: &mut Vec<(String, String)>, key: String, value: String) {
    match pairs.iter_mut().find(|(k, _)| *k == key) {
        Some(pair) => pair.1 = value,
        None => pairs.push((key, value)),
    }
}

fn is_remote_url(src: &str) -> bool {
    let Some((scheme, _)) = src.split_once("://") else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'))
}

/// A shell-form command with its line continuations (escape + newline) removed, as
/// Docker joins them.
fn join_continuations(command: &str, escape: char) -> String {
    let mut out = String::with_capacity(command.len());
    let mut chars = command.chars().peekable();
    while let Some(c) = chars.next() {
        if c == escape {
            // Escape, optional trailing spaces, newline: a continuation.
            let mut lookahead = chars.clone();
            let mut spaces = 0;
            while lookahead.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
                lookahead.next();
                spaces += 1;
            }
            if lookahead.peek() == Some(&'\r') {
                lookahead.next();
            }
            if lookahead.peek() == Some(&'\n') {
                for _ in 0..spaces {
                    chars.next();
                }
                if chars.peek() == Some(&'\r') {
                    chars.next();
                }
                chars.next();
                continue;
            }
        }
        out.push(c);
    }
    out.trim().to_owned()
}

/// The names of the heredoc markers (`<<NAME`, `<<-NAME`, `<<"NAME"`) in a command line.
fn heredoc_names(line: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("<<") {
        rest = &rest[i + 2..];
        let marker = rest.strip_prefix('-').unwrap_or(rest).trim_start();
        let name: String = marker
            .chars()
            .take_while(|c| !c.is_whitespace() && !matches!(c, ';' | '&' | '|' | '>' | '<'))
            .filter(|c| *c != '"' && *c != '\'')
            .collect();
        if !name.is_empty() {
            names.push(name);
        }
    }
    names
}

fn is_lone_marker(line: &str) -> bool {
    !line.contains(char::is_whitespace) && line.starts_with("<<")
}

fn heredoc_terminator(name: &str, content: &str) -> String {
    let mut terminator = format!(
        "E2B_HEREDOC_{}",
        name.chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            })
            .collect::<String>()
    );
    while content.contains(&terminator) {
        terminator.push('_');
    }
    terminator
}
