//! Reading upstream spec files out of a git remote (URL, repository or bundle).
