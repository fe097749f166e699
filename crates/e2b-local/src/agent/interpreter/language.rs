//! Languages: the names clients use, how each kernel starts, and the small
//! pieces of code the service runs in a kernel on the client's behalf
//! (changing directory, setting and restoring environment variables).

use std::collections::BTreeMap;

use std::path::{Path, PathBuf};

use crate::interpreter::kernel_env::{KernelEnv, Language};

/// The language a request means: none is Python; names are trimmed and
/// lower-cased; `js` and `ts` are short for `javascript` and `typescript`.
pub(crate) fn normalize(requested: Option<&str>) -> String {
    let name = requested
        .map(|l| l.trim().to_lowercase())
        .unwrap_or_default();
    match name.as_str() {
        "" => "python".to_owned(),
        "js" => "javascript".to_owned(),
        "ts" => "typescript".to_owned(),
        _ => name,
    }
}

/// The kernel of a normalized language name, if this service has one.
pub(crate) fn by_name(name: &str) -> Option<Language> {
    match name {
        "python" => Some(Language::Python),
        "bash" => Some(Language::Bash),
        "javascript" => Some(Language::JavaScript),
        "typescript" => Some(Language::TypeScript),
        "java" => Some(Language::Java),
        "r" => Some(Language::R),
        _ => None,
    }
}

/// How the kernel is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    /// Unix sockets named `<prefix><separator><port>` (see
    /// [`ConnectionInfo::ipc_separator`](crate::interpreter::jupyter::connection::ConnectionInfo::ipc_separator)).
    Ipc(char),
    /// Loopback TCP ports (kernels whose ZMQ has no `ipc`: JeroMQ).
    Tcp,
}

/// Whether the kernel is interrupted with an `interrupt_request` on its
/// control channel (its kernelspec's `interrupt_mode` is `message`) rather
/// than SIGINT, which would end a JVM.
pub(crate) fn interrupts_by_message(language: Language) -> bool {
    language == Language::Java
}

/// The transport `language`'s kernel can use.
pub(crate) fn transport(language: Language) -> Transport {
    match language {
        Language::Python | Language::Bash | Language::R => Transport::Ipc('-'),
        Language::JavaScript | Language::TypeScript => Transport::Ipc(':'),
        Language::Java => Transport::Tcp,
    }
}

/// The program and arguments that start the kernel with connection file `file`.
pub(crate) fn command(language: Language, env: &KernelEnv, file: &Path) -> (PathBuf, Vec<String>) {
    let file = file.to_string_lossy().into_owned();
    match language {
        Language::Python | Language::Bash => {
            let module = match language {
                Language::Python => "ipykernel_launcher",
                _ => "bash_kernel",
            };
            let mut args = vec!["-m".to_owned(), module.to_owned(), "-f".to_owned(), file];
            args.extend(kernel_args(language, env));
            (env.python(), args)
        }
        Language::JavaScript | Language::TypeScript => {
            let node = crate::interpreter::kernel_env::on_path("node")
                .unwrap_or_else(|| PathBuf::from("node"));
            let mut args = Vec::new();
            let main_result = env.tslab_main_result();
            if main_result.is_file() {
                args.push("--require".to_owned());
                args.push(main_result.to_string_lossy().into_owned());
            }
            args.extend([
                env.tslab().to_string_lossy().into_owned(),
                "kernel".to_owned(),
                "--config-path".to_owned(),
                file,
            ]);
            if language == Language::JavaScript {
                args.push("--js".to_owned());
            }
            (node, args)
        }
        Language::R => {
            let r =
                crate::interpreter::kernel_env::on_path("R").unwrap_or_else(|| PathBuf::from("R"));
            let args = ["--slave", "-e", "IRkernel::main()", "--args"]
                .into_iter()
                .map(str::to_owned)
                .chain([file])
                .collect();
            (r, args)
        }
        Language::Java => {
            let java = crate::interpreter::kernel_env::on_path("java")
                .unwrap_or_else(|| PathBuf::from("java"));
            let dir = env.jjava_dir();
            let args = vec![
                "-jar".to_owned(),
                dir.join("jjava-launcher.jar")
                    .to_string_lossy()
                    .into_owned(),
                dir.join("jjava.jar").to_string_lossy().into_owned(),
                file,
            ];
            (java, args)
        }
    }
}

/// Extra command-line settings of the kernel.
///
/// Python kernels get plain tracebacks (clients show them as text), no
/// history database, and the environment's startup scripts (the `e2b/data`
/// and `e2b/chart` formatters) run from the read-only environment: IPython
/// cannot use a read-only `IPYTHONDIR`, so the profile stays in the user's
/// home and the scripts are named one by one.
fn kernel_args(language: Language, env: &KernelEnv) -> Vec<String> {
    match language {
        Language::Python => {
            let mut args = vec![
                "--InteractiveShell.colors=NoColor".to_owned(),
                "--HistoryManager.enabled=False".to_owned(),
            ];
            let startup = env.ipython_dir().join("profile_default").join("startup");
            let mut scripts: Vec<_> = std::fs::read_dir(startup)
                .into_iter()
                .flatten()
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "py"))
                .collect();
            scripts.sort();
            args.extend(
                scripts
                    .iter()
                    .map(|p| format!("--IPKernelApp.exec_files={}", p.display())),
            );
            args
        }
        _ => Vec::new(),
    }
}

/// Why an environment variable name cannot be set in `language`.
pub(crate) fn check_env_name(language: Language, name: &str) -> Result<(), String> {
    let ok = match language {
        Language::Python
        | Language::JavaScript
        | Language::TypeScript
        | Language::Java
        | Language::R => !name.is_empty() && !name.contains(['=', '\0']),
        Language::Bash => {
            let mut chars = name.chars();
            chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "environment variable name {name:?} cannot be set in a {language} context"
        ))
    }
}

/// Code that remembers the current values of `vars`' names and sets `vars`.
pub(crate) fn set_env(language: Language, vars: &BTreeMap<String, String>) -> String {
    match language {
        Language::Python => {
            let names: Vec<&String> = vars.keys().collect();
            format!(
                "import os as _e2b_os\n\
                 _e2b_saved_env = {{k: _e2b_os.environ.get(k) for k in {}}}\n\
                 _e2b_os.environ.update({})\n\
                 del _e2b_os",
                serde_json::Value::from(names.iter().map(|s| s.as_str()).collect::<Vec<_>>()),
                python_dict(vars)
            )
        }
        Language::JavaScript | Language::TypeScript => {
            let global = js_global(language);
            let names: Vec<&str> = vars.keys().map(String::as_str).collect();
            format!(
                "{global}.__e2b_saved_env = Object.fromEntries({}.map((k) => [k, process.env[k]]));\n\
                 Object.assign(process.env, {});",
                serde_json::Value::from(names),
                python_dict(vars)
            )
        }
        Language::R => {
            let names: Vec<String> = vars.keys().map(|k| python_str(k)).collect();
            let pairs: Vec<String> = vars
                .iter()
                .map(|(k, v)| format!("{} = {}", python_str(k), python_str(v)))
                .collect();
            format!(
                ".e2b_saved_env <- Sys.getenv(c({}), unset = NA, names = TRUE)\n\
                 invisible(do.call(Sys.setenv, list({})))",
                names.join(", "),
                pairs.join(", ")
            )
        }
        // Java has no mutable environment: like upstream, the variables
        // become system properties.
        Language::Java => {
            let mut code =
                String::from("var _e2bSavedEnv = new java.util.HashMap<String, String>();\n");
            for (k, v) in vars {
                let k = python_str(k);
                code.push_str(&format!(
                    "_e2bSavedEnv.put({k}, System.getProperty({k}));\nSystem.setProperty({k}, {});\n",
                    python_str(v)
                ));
            }
            code
        }
        Language::Bash => vars
            .iter()
            .map(|(k, v)| {
                format!(
                    "_e2b_had_{k}=${{{k}+1}}; _e2b_old_{k}=${{{k}-}}; export {k}={}",
                    shell_quote(v)
                )
            })
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

/// Code that sets `vars` in a running kernel for good, as if it had started
/// with them: [`set_env`] without keeping what it replaced.
pub(crate) fn apply_env(language: Language, vars: &BTreeMap<String, String>) -> String {
    let set = set_env(language, vars);
    let forget = match language {
        Language::Python => "del _e2b_saved_env".to_owned(),
        Language::JavaScript | Language::TypeScript => {
            format!("delete {}.__e2b_saved_env;", js_global(language))
        }
        Language::R => "rm(.e2b_saved_env)".to_owned(),
        Language::Java => "_e2bSavedEnv = null;".to_owned(),
        Language::Bash => vars
            .keys()
            .map(|k| format!("unset _e2b_had_{k} _e2b_old_{k}"))
            .collect::<Vec<_>>()
            .join("\n"),
    };
    format!("{set}\n{forget}")
}

/// Code a new kernel runs before anything else, if its language needs it:
/// Java reads variables as system properties, so the sandbox's variables
/// (in the kernel's environment already) are copied there, as upstream's
/// interpreter does.
pub(crate) fn startup(
    language: Language,
    sandbox_env: &BTreeMap<String, String>,
) -> Option<String> {
    if language != Language::Java || sandbox_env.is_empty() {
        return None;
    }
    let code = sandbox_env
        .iter()
        .map(|(k, v)| {
            format!(
                "System.setProperty({}, {});\n",
                python_str(k),
                python_str(v)
            )
        })
        .collect();
    Some(code)
}

/// `globalThis`, typed loosely enough for TypeScript.
fn js_global(language: Language) -> &'static str {
    if language == Language::TypeScript {
        "(globalThis as any)"
    } else {
        "globalThis"
    }
}

/// Code that restores what [`set_env`] changed.
pub(crate) fn restore_env(language: Language, vars: &BTreeMap<String, String>) -> String {
    match language {
        Language::Python => "import os as _e2b_os\n\
             for _e2b_k, _e2b_v in _e2b_saved_env.items():\n    \
                 if _e2b_v is None:\n        _e2b_os.environ.pop(_e2b_k, None)\n    \
                 else:\n        _e2b_os.environ[_e2b_k] = _e2b_v\n\
             del _e2b_os, _e2b_saved_env\n\
             _e2b_k = _e2b_v = None\n\
             del _e2b_k, _e2b_v"
            .to_owned(),
        Language::JavaScript | Language::TypeScript => {
            let global = js_global(language);
            format!(
                "for (const [k, v] of Object.entries({global}.__e2b_saved_env)) {{\n\
                 \x20 if (v === undefined) {{ delete process.env[k]; }} else {{ process.env[k] = {global}.String(v); }}\n\
                 }}\n\
                 delete {global}.__e2b_saved_env;"
            )
        }
        Language::R => "for (.e2b_k in names(.e2b_saved_env)) {\n\
             \x20 .e2b_v <- .e2b_saved_env[[.e2b_k]]\n\
             \x20 if (is.na(.e2b_v)) Sys.unsetenv(.e2b_k) else do.call(Sys.setenv, setNames(list(.e2b_v), .e2b_k))\n\
             }\n\
             rm(list = intersect(c(\".e2b_saved_env\", \".e2b_k\", \".e2b_v\"), ls(all.names = TRUE)))"
            .to_owned(),
        Language::Java => "for (var e : _e2bSavedEnv.entrySet()) {\n\
             \x20 if (e.getValue() == null) System.clearProperty(e.getKey());\n\
             \x20 else System.setProperty(e.getKey(), e.getValue());\n\
             }"
        .to_owned(),
        Language::Bash => vars
            .keys()
            .map(|k| {
                format!(
                    "if [ -n \"$_e2b_had_{k}\" ]; then export {k}=\"$_e2b_old_{k}\"; else unset {k}; fi; unset _e2b_had_{k} _e2b_old_{k}"
                )
            })
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

/// A string literal of Python, JavaScript or Java (JSON's escapes are a
/// subset of each).
fn python_str(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

/// A Python dict literal of strings.
fn python_dict(vars: &BTreeMap<String, String>) -> String {
    serde_json::to_string(vars).unwrap_or_else(|_| "{}".to_owned())
}

/// A single-quoted shell word.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalized_like_upstream() {
        assert_eq!(normalize(None), "python");
        assert_eq!(normalize(Some("")), "python");
        assert_eq!(normalize(Some(" Python ")), "python");
        assert_eq!(normalize(Some("JS")), "javascript");
        assert_eq!(normalize(Some("ts")), "typescript");
        assert_eq!(normalize(Some("r")), "r");
        assert_eq!(by_name("python"), Some(Language::Python));
        assert_eq!(by_name("bash"), Some(Language::Bash));
        assert_eq!(by_name("cobol"), None);
    }

    #[test]
    fn env_names_are_checked_per_language() {
        assert!(check_env_name(Language::Python, "A-B").is_ok());
        assert!(check_env_name(Language::Python, "A=B").is_err());
        assert!(check_env_name(Language::Python, "").is_err());
        assert!(check_env_name(Language::Bash, "_A1").is_ok());
        assert!(check_env_name(Language::Bash, "1A").is_err());
        assert!(check_env_name(Language::Bash, "A-B").is_err());
        assert!(check_env_name(Language::Bash, "A;rm").is_err());
    }

    #[test]
    fn applied_variables_leave_nothing_behind() {
        let vars = BTreeMap::from([("K".to_owned(), "v".to_owned())]);
        let python = apply_env(Language::Python, &vars);
        assert!(
            python.starts_with(&set_env(Language::Python, &vars)),
            "{python}"
        );
        assert!(python.ends_with("del _e2b_saved_env"), "{python}");
        let js = apply_env(Language::JavaScript, &vars);
        assert!(js.ends_with("delete globalThis.__e2b_saved_env;"), "{js}");
        let bash = apply_env(Language::Bash, &vars);
        assert!(bash.ends_with("unset _e2b_had_K _e2b_old_K"), "{bash}");
    }

    #[test]
    fn values_are_quoted() {
        let vars = BTreeMap::from([("K".to_owned(), "it's \"x\"\n$HOME".to_owned())]);
        let bash = set_env(Language::Bash, &vars);
        assert!(bash.contains(r#"export K='it'\''s "x""#), "{bash}");
        let py = set_env(Language::Python, &vars);
        assert!(py.contains(r#"{"K":"it's \"x\"\n$HOME"}"#), "{py}");
    }
}
