//! Ctrl-C at a terminal signals the whole foreground process group, so the
//! docker command kas waits for gets it too (and passes it on to the
//! container, or stops the build or the push). kas itself keeps waiting, so
//! that docker's last words and its exit status reach the user, instead of
//! a prompt while docker is still writing.

/// Makes SIGINT leave this process running (its children still get it).
pub fn outlive_children_on_ctrl_c() {
    extern "C" fn nothing(_: libc::c_int) {}
    // SAFETY: installs a handler that does nothing, which is
    // async-signal-safe. A handler (unlike SIG_IGN) is reset to the default
    // in the programs this process starts, so docker still reacts.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = nothing as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGINT, &action, std::ptr::null_mut());
    }
}
