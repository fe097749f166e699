//! The code interpreter's host side: the Jupyter wire protocol the agent
//! speaks to kernels, and the kernel environment sandboxes are shown.

pub mod jupyter;
pub mod kernel_env;
pub mod kernel_env_install;
