//! The seccomp filter every sandbox process runs under.
//!
//! A deny list in the spirit of the container runtimes' default profiles:
//! everything an ordinary program needs is allowed, while the system calls
//! that reach kernel surfaces a tenant has no business with (module loading,
//! kexec, eBPF, perf, keyrings, new namespaces, mounts, tracing other
//! processes, …) fail with `EPERM`. The table below is the one place that
//! decides it; each entry says why.
//!
//! Two programs are produced, both handed to bubblewrap (`--add-seccomp-fd`),
//! which installs them right before it runs the agent, so the agent and
//! everything it starts are filtered:
//! 1. the deny list (`EPERM`);
//! 2. `clone3` answers `ENOSYS`: its flags sit behind a pointer a filter
//!    cannot read, and `ENOSYS` makes the C library fall back to `clone`,
//!    whose flags the first program checks.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

/// Namespace flags of `clone` and `unshare` that are refused: a new user
/// namespace would hand the tenant a fresh set of capabilities, and the
/// others need privileges the tenant should not exercise.
const NAMESPACE_FLAGS: [u64; 7] = [
    libc::CLONE_NEWUSER as u64,
    libc::CLONE_NEWNS as u64,
    libc::CLONE_NEWNET as u64,
    libc::CLONE_NEWPID as u64,
    libc::CLONE_NEWIPC as u64,
    libc::CLONE_NEWUTS as u64,
    libc::CLONE_NEWCGROUP as u64,
];

/// System calls refused outright, with the reason.
const DENIED: &[(i64, &str)] = &[
    // Kernel code and the running kernel.
    (libc::SYS_init_module, "load kernel modules"),
    (libc::SYS_finit_module, "load kernel modules"),
    (libc::SYS_delete_module, "unload kernel modules"),
    (libc::SYS_kexec_load, "replace the running kernel"),
    (libc::SYS_kexec_file_load, "replace the running kernel"),
    (libc::SYS_reboot, "reboot or halt"),
    (libc::SYS_bpf, "eBPF programs and maps"),
    (
        libc::SYS_perf_event_open,
        "performance counters (kernel info leaks)",
    ),
    (libc::SYS_syslog, "the kernel log"),
    (libc::SYS_iopl, "raw I/O ports"),
    (libc::SYS_ioperm, "raw I/O ports"),
    (libc::SYS_swapon, "swap devices"),
    (libc::SYS_swapoff, "swap devices"),
    (libc::SYS_acct, "process accounting"),
    (libc::SYS_quotactl, "disk quotas"),
    (libc::SYS_quotactl_fd, "disk quotas"),
    (libc::SYS_lookup_dcookie, "kernel profiling"),
    (libc::SYS_uselib, "obsolete loader interface"),
    // Clocks shared with the host.
    (libc::SYS_settimeofday, "the host's clock"),
    (libc::SYS_clock_settime, "the host's clock"),
    (libc::SYS_clock_adjtime, "the host's clock"),
    // Keyrings are not namespaced.
    (libc::SYS_keyctl, "kernel keyrings"),
    (libc::SYS_add_key, "kernel keyrings"),
    (libc::SYS_request_key, "kernel keyrings"),
    // Filesystems and mounts.
    (libc::SYS_mount, "mounts"),
    (
        libc::SYS_umount2,
        "mounts (unmasking what the sandbox hides)",
    ),
    (libc::SYS_pivot_root, "mounts"),
    (libc::SYS_fsopen, "the new mount API"),
    (libc::SYS_fsconfig, "the new mount API"),
    (libc::SYS_fsmount, "the new mount API"),
    (libc::SYS_fspick, "the new mount API"),
    (libc::SYS_move_mount, "the new mount API"),
    (libc::SYS_open_tree, "the new mount API"),
    (libc::SYS_mount_setattr, "the new mount API"),
    (
        libc::SYS_open_by_handle_at,
        "opening files by handle (bypasses paths)",
    ),
    // Namespaces.
    (libc::SYS_setns, "joining other namespaces"),
    // Other processes' memory.
    (
        libc::SYS_ptrace,
        "tracing processes (the agent holds the sandbox's state)",
    ),
    (
        libc::SYS_process_vm_readv,
        "reading other processes' memory",
    ),
    (
        libc::SYS_process_vm_writev,
        "writing other processes' memory",
    ),
    (
        libc::SYS_kcmp,
        "comparing kernel objects of other processes",
    ),
    // Kernel attack surface with a history of escapes.
    (
        libc::SYS_userfaultfd,
        "userfaultfd (kernel race exploitation)",
    ),
    (libc::SYS_io_uring_setup, "io_uring"),
    (libc::SYS_io_uring_enter, "io_uring"),
    (libc::SYS_io_uring_register, "io_uring"),
    (libc::SYS_fanotify_init, "filesystem-wide event monitoring"),
];

/// The two filter programs, as the raw `struct sock_filter` arrays bubblewrap reads.
#[derive(Clone, Debug)]
pub(crate) struct SeccompPrograms {
    /// The deny list.
    pub(crate) deny: Vec<u8>,
    /// `clone3` → `ENOSYS`.
    pub(crate) clone3: Vec<u8>,
}

/// Why the filter could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the sandbox seccomp filter: {0}")]
pub(crate) struct SeccompError(String);

fn target_arch() -> Result<TargetArch, SeccompError> {
    TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|e| SeccompError(format!("unsupported architecture: {e:?}")))
}

/// A rule matching when `arg` of the call has `flag` set.
fn has_flag(arg: u8, flag: u64) -> Result<SeccompRule, SeccompError> {
    let condition = SeccompCondition::new(
        arg,
        SeccompCmpArgLen::Qword,
        SeccompCmpOp::MaskedEq(flag),
        flag,
    )
    .map_err(|e| SeccompError(format!("{e:?}")))?;
    SeccompRule::new(vec![condition]).map_err(|e| SeccompError(format!("{e:?}")))
}

/// Build both programs for this machine's architecture.
pub(crate) fn programs() -> Result<SeccompPrograms, SeccompError> {
    let arch = target_arch()?;
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> =
        DENIED.iter().map(|&(nr, _)| (nr, Vec::new())).collect();
    let namespace_rules = |arg| {
        NAMESPACE_FLAGS
            .iter()
            .map(|&flag| has_flag(arg, flag))
            .collect::<Result<Vec<_>, _>>()
    };
    // clone(flags, …) on x86_64 and aarch64 alike: flags are the first argument.
    rules.insert(libc::SYS_clone, namespace_rules(0)?);
    rules.insert(libc::SYS_unshare, namespace_rules(0)?);
    let deny = compile(rules, libc::EPERM, arch)?;
    let clone3 = compile(
        BTreeMap::from([(libc::SYS_clone3, Vec::new())]),
        libc::ENOSYS,
        arch,
    )?;
    Ok(SeccompPrograms { deny, clone3 })
}

fn compile(
    rules: BTreeMap<i64, Vec<SeccompRule>>,
    errno: i32,
    arch: TargetArch,
) -> Result<Vec<u8>, SeccompError> {
    let errno = u32::try_from(errno).map_err(|e| SeccompError(e.to_string()))?;
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(errno),
        arch,
    )
    .map_err(|e| SeccompError(format!("{e:?}")))?;
    let program: BpfProgram = filter
        .try_into()
        .map_err(|e| SeccompError(format!("{e:?}")))?;
    Ok(to_bytes(&program))
}

/// The program in the kernel's layout: `u16 code, u8 jt, u8 jf, u32 k`, native endian.
fn to_bytes(program: &BpfProgram) -> Vec<u8> {
    let mut out = Vec::with_capacity(program.len() * 8);
    for insn in program {
        out.extend_from_slice(&insn.code.to_ne_bytes());
        out.push(insn.jt);
        out.push(insn.jf);
        out.extend_from_slice(&insn.k.to_ne_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_build_for_this_machine() {
        let p = programs().unwrap();
        assert!(!p.deny.is_empty() && p.deny.len().is_multiple_of(8));
        assert!(!p.clone3.is_empty() && p.clone3.len().is_multiple_of(8));
        // Far below the kernel's limit of 4096 instructions.
        assert!(p.deny.len() / 8 < 1024, "{} instructions", p.deny.len() / 8);
    }

    #[test]
    fn the_table_has_no_duplicates() {
        let mut seen = std::collections::BTreeSet::new();
        for (nr, why) in DENIED {
            assert!(seen.insert(nr), "syscall {nr} listed twice ({why})");
        }
        assert!(!seen.contains(&libc::SYS_clone) && !seen.contains(&libc::SYS_unshare));
    }
}
