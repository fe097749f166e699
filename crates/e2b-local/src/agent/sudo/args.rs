//! `sudo`'s command line, as much of it as scripts use.

use serde::{Deserialize, Serialize};

/// What a `sudo` command line asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Invocation {
    /// `-u`: the target user (a name or `#uid`); root when absent.
    pub(crate) user: Option<String>,
    /// `-g`: the target group (a name or `#gid`).
    pub(crate) group: Option<String>,
    /// `-E`: keep the caller's environment.
    pub(crate) preserve_env: bool,
    /// `-H`: `HOME` is the target's (also the default without `-E`).
    pub(crate) set_home: bool,
    /// `-i`: run the target's login shell.
    pub(crate) login: bool,
    /// `-s`: run a shell.
    pub(crate) shell: bool,
    /// `-b`: do not wait for the command.
    pub(crate) background: bool,
    /// `-D`: the working directory.
    pub(crate) chdir: Option<String>,
    /// `VAR=value` arguments before the command.
    pub(crate) assignments: Vec<(String, String)>,
    /// The command and its arguments.
    pub(crate) command: Vec<String>,
}

/// What to do with a command line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// Run a command.
    Run(Invocation),
    /// Print this and exit with status 0 (`-h`, `-V`, `-l`, `-v`, `-k`).
    Print(String),
}

/// A command line `sudo` refuses, with the reason.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct UsageError(pub(crate) String);

/// How to use `sudo` here.
pub(crate) const USAGE: &str = "usage: sudo [-EHbins] [-u user] [-g group] [-D directory] [VAR=value] [--] command [arg ...]\n       sudo -h | -V | -l | -v | -k | -K\n";

/// Options that take a value, as (short, long).
const WITH_VALUE: [(char, &str); 8] = [
    ('u', "user"),
    ('g', "group"),
    ('D', "chdir"),
    ('p', "prompt"),
    ('C', "close-from"),
    ('T', "command-timeout"),
    ('r', "role"),
    ('t', "type"),
];

/// Parse the arguments after the program name.
pub(crate) fn parse(args: &[String]) -> Result<Action, UsageError> {
    let mut inv = Invocation::default();
    let mut print = None;
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if arg == "--" {
            i += 1;
            break;
        }
        if let Some(long) = arg.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (long, None),
            };
            if let Some((short, _)) = WITH_VALUE.iter().find(|(_, l)| *l == name) {
                let value = match inline {
                    Some(v) => v,
                    None => {
                        i += 1;
                        args.get(i).cloned().ok_or_else(|| missing_value(name))?
                    }
                };
                apply_value(&mut inv, *short, value);
            } else {
                let short = match name {
                    "preserve-env" => 'E',
                    "set-home" => 'H',
                    "login" => 'i',
                    "shell" => 's',
                    "background" => 'b',
                    "non-interactive" | "stdin" | "askpass" | "preserve-groups" => 'n',
                    "help" => 'h',
                    "version" => 'V',
                    "list" => 'l',
                    "validate" => 'v',
                    "reset-timestamp" => 'k',
                    "remove-timestamp" => 'K',
                    _ => {
                        return Err(UsageError(format!(
                            "sudo: unrecognized option '--{name}'\n{USAGE}"
                        )));
                    }
                };
                apply_flag(&mut inv, short, &mut print)?;
            }
            i += 1;
            continue;
        }
        let Some(cluster) = arg.strip_prefix('-').filter(|c| !c.is_empty()) else {
            break;
        };
        let chars: Vec<char> = cluster.chars().collect();
        let mut j = 0;
        while j < chars.len() {
            let c = chars[j];
            if WITH_VALUE.iter().any(|(s, _)| *s == c) {
                let rest: String = chars[j + 1..].iter().collect();
                let value = if rest.is_empty() {
                    i += 1;
                    args.get(i)
                        .cloned()
                        .ok_or_else(|| missing_value(&c.to_string()))?
                } else {
                    rest
                };
                apply_value(&mut inv, c, value);
                break;
            }
            apply_flag(&mut inv, c, &mut print)?;
            j += 1;
        }
        i += 1;
    }
    while let Some((name, value)) = args.get(i).and_then(|a| assignment(a)) {
        inv.assignments.push((name, value));
        i += 1;
    }
    inv.command = args[i.min(args.len())..].to_vec();
    if let Some(text) = print {
        return Ok(Action::Print(text));
    }
    if inv.command.is_empty() && !inv.login && !inv.shell {
        return Err(UsageError(USAGE.to_owned()));
    }
    Ok(Action::Run(inv))
}

fn assignment(arg: &str) -> Option<(String, String)> {
    let (name, value) = arg.split_once('=')?;
    let valid = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid.then(|| (name.to_owned(), value.to_owned()))
}

fn missing_value(option: &str) -> UsageError {
    UsageError(format!(
        "sudo: option requires an argument -- '{option}'\n{USAGE}"
    ))
}

fn apply_value(inv: &mut Invocation, option: char, value: String) {
    match option {
        'u' => inv.user = Some(value),
        'g' => inv.group = Some(value),
        'D' => inv.chdir = Some(value),
        // Prompts, descriptor limits, timeouts and SELinux roles have no
        // meaning here: there is no password and no policy to apply them to.
        _ => {}
    }
}

fn apply_flag(
    inv: &mut Invocation,
    flag: char,
    print: &mut Option<String>,
) -> Result<(), UsageError> {
    match flag {
        'E' => inv.preserve_env = true,
        'H' => inv.set_home = true,
        'i' => inv.login = true,
        's' => inv.shell = true,
        'b' => inv.background = true,
        // No password is ever asked: these change nothing.
        'n' | 'S' | 'A' | 'P' => {}
        'h' => *print = Some(USAGE.to_owned()),
        'V' => {
            *print = Some("Sudo version 1.9 (served by the e2b-local sandbox agent)\n".to_owned())
        }
        'l' => {
            *print = Some(
                "User may run the following commands on this sandbox:\n    (ALL : ALL) NOPASSWD: ALL\n"
                    .to_owned(),
            );
        }
        'v' | 'k' | 'K' => *print = Some(String::new()),
        other => {
            return Err(UsageError(format!(
                "sudo: invalid option -- '{other}'\n{USAGE}"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Invocation {
        let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        match parse(&args).unwrap() {
            Action::Run(inv) => inv,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn plain_command_keeps_its_own_options() {
        let inv = run(&["apt-get", "install", "-y", "tree"]);
        assert_eq!(inv.command, ["apt-get", "install", "-y", "tree"]);
        assert_eq!(inv.user, None);
    }

    #[test]
    fn clustered_and_long_options() {
        let inv = run(&["-nEu", "user", "--chdir=/tmp", "-H", "--", "-weird", "x"]);
        assert!(inv.preserve_env && inv.set_home);
        assert_eq!(inv.user.as_deref(), Some("user"));
        assert_eq!(inv.chdir.as_deref(), Some("/tmp"));
        assert_eq!(inv.command, ["-weird", "x"]);
        let inv = run(&["--user", "#0", "-uroot", "id"]);
        assert_eq!(inv.user.as_deref(), Some("root"));
    }

    #[test]
    fn assignments_before_the_command() {
        let inv = run(&["A=1", "B_2=two=2", "env", "C=3"]);
        assert_eq!(
            inv.assignments,
            [("A".into(), "1".into()), ("B_2".into(), "two=2".into())]
        );
        assert_eq!(inv.command, ["env", "C=3"]);
    }

    #[test]
    fn shells_need_no_command_but_others_do() {
        assert!(run(&["-i"]).login);
        assert!(run(&["-s"]).command.is_empty());
        assert!(parse(&[]).is_err());
        assert!(parse(&["-u".into()]).is_err());
        assert!(
            parse(&["-Z".into(), "ls".into()])
                .unwrap_err()
                .0
                .contains("invalid option")
        );
        assert!(matches!(parse(&["-v".into()]).unwrap(), Action::Print(_)));
    }
}
