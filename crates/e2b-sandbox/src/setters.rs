//! Builder setters shared by several option types, written once.
//!
//! Each macro expands, inside an `impl` block, to `pub fn` setters over fields the type must
//! have (named in each macro's docs). What differs between types, the setters' doc strings,
//! is passed in, so every type keeps documentation in its own words.

/// `env` and `envs`, over a field `envs: HashMap<String, String>`.
macro_rules! env_setters {
    (env = $env_doc:literal, envs = $envs_doc:literal $(,)?) => {
        #[doc = $env_doc]
        pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
            self.envs.insert(key.into(), value.into());
            self
        }

        #[doc = $envs_doc]
        pub fn envs<I, K, V>(mut self, envs: I) -> Self
        where
            I: IntoIterator<Item = (K, V)>,
            K: Into<String>,
            V: Into<String>,
        {
            self.envs
                .extend(envs.into_iter().map(|(k, v)| (k.into(), v.into())));
            self
        }
    };
}

/// `env`, `envs` and `cwd` of a process (a command or a terminal), over the fields
/// `envs: HashMap<String, String>` and `cwd: Option<String>`. The user is chosen on the
/// sandbox handle ([`Sandbox::with_user`](crate::Sandbox::with_user)), not here.
macro_rules! process_setters {
    (cwd = $cwd_doc:literal $(,)?) => {
        $crate::setters::env_setters!(
            env = "Set one environment variable.",
            envs = "Set environment variables.",
        );

        #[doc = $cwd_doc]
        pub fn cwd(mut self, cwd: impl Into<String>) -> Self {
            self.cwd = Some(cwd.into());
            self
        }
    };
}

/// `timeout`, `no_timeout`, `request_timeout` and `stream_idle_timeout` of a process
/// stream, over a field `deadlines: StreamDeadlines`.
///
/// `timeout` and `stream_idle_timeout` store `Duration::ZERO` as no limit (`None`);
/// `request_timeout` stores it as given, because there `None` means the sandbox's request
/// timeout and zero means no limit (see `Commands::start_timeout`).
macro_rules! deadline_setters {
    (
        timeout = $timeout_doc:literal,
        no_timeout = $no_timeout_doc:literal,
        request_timeout = $request_timeout_doc:literal $(,)?
    ) => {
        #[doc = $timeout_doc]
        pub fn timeout(mut self, timeout: ::std::time::Duration) -> Self {
            self.deadlines.timeout = Some(timeout).filter(|t| !t.is_zero());
            self
        }

        #[doc = $no_timeout_doc]
        pub fn no_timeout(mut self) -> Self {
            self.deadlines.timeout = None;
            self
        }

        #[doc = $request_timeout_doc]
        pub fn request_timeout(mut self, timeout: ::std::time::Duration) -> Self {
            self.deadlines.request_timeout = Some(timeout);
            self
        }

        /// Bound the silence of the output stream; `Duration::ZERO` means no limit.
        pub fn stream_idle_timeout(mut self, timeout: ::std::time::Duration) -> Self {
            self.deadlines.idle_timeout = Some(timeout).filter(|t| !t.is_zero());
            self
        }
    };
}

/// `on_stdout` and `on_stderr`, over the fields `on_stdout` and `on_stderr`, both
/// `Option<TextCallback>`.
macro_rules! output_callback_setters {
    () => {
        /// Call `f` with each piece of standard output as it arrives.
        pub fn on_stdout(mut self, f: impl Fn(&str) + Send + Sync + 'static) -> Self {
            self.on_stdout = Some(::std::sync::Arc::new(f));
            self
        }

        /// Call `f` with each piece of standard error as it arrives.
        pub fn on_stderr(mut self, f: impl Fn(&str) + Send + Sync + 'static) -> Self {
            self.on_stderr = Some(::std::sync::Arc::new(f));
            self
        }
    };
}

/// `on_data` of a terminal, over a field `on_data: Option<BytesCallback>`.
macro_rules! terminal_data_setter {
    () => {
        /// Call `f` with the terminal's output as it arrives.
        pub fn on_data(mut self, f: impl Fn(&[u8]) + Send + Sync + 'static) -> Self {
            self.on_data = Some(::std::sync::Arc::new(f));
            self
        }
    };
}

pub(crate) use {
    deadline_setters, env_setters, output_callback_setters, process_setters, terminal_data_setter,
};
