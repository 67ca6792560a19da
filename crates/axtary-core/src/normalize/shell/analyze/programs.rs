//! What each program does with its arguments: the knowledge behind [`Analyzer::run`].
//!
//! Tables for the programs whose arguments are alike (readers, writers, wrappers), and one
//! method per program with its own argument grammar (`git`, `curl`, `tar`, ...).

use super::super::ast::is_name;
use super::super::lexer::MAX_DEPTH;
use super::{Analyzer, Arg, base_name, display};

/// The operands of `args`: everything that is not a flag, the values of `value_opts` skipped.
/// After `--` everything is an operand.
/// Parts of git config keys whose values git runs as commands.
const GIT_KEYS_THAT_RUN: &[&str] = &[
    "sshcommand",
    "pager",
    "alias.",
    "fsmonitor",
    "hookspath",
    "editor",
    "askpass",
    "proxy",
    "textconv",
    "filter.",
    "external",
    "credential.helper",
    "gpg.program",
    "core.hooks",
];

/// Operands of git commands that name no file.
const NOT_FILE_PATHS: &[&str] = &["/dev/null"];

/// `a..b` and `a...b` revision ranges are not paths.
fn is_rev_range(v: &str) -> bool {
    v.split_once("..")
        .is_some_and(|(a, b)| !a.contains('/') && !b.trim_start_matches('.').contains('/'))
}

fn operands<'a>(args: &'a [Arg], value_opts: &[&str]) -> Vec<&'a Arg> {
    let mut out = Vec::new();
    let mut iter = args.iter();
    let mut only_operands = false;
    while let Some(arg) = iter.next() {
        if only_operands {
            out.push(arg);
        } else if arg.v() == Some("--") {
            only_operands = true;
        } else if arg.is_flag() {
            if arg.v().is_some_and(|v| value_opts.contains(&v)) {
                iter.next();
            }
        } else {
            out.push(arg);
        }
    }
    out
}

/// The values given to any of `opts`: `-o v`, `-ov`, `--opt v`, `--opt=v`.
fn option_values(args: &[Arg], opts: &[&str]) -> Vec<Arg> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        i += 1;
        let Some(v) = arg.v() else { continue };
        if v == "--" {
            break;
        }
        for opt in opts {
            if v == *opt {
                if let Some(next) = args.get(i) {
                    out.push(next.clone());
                    i += 1;
                }
                break;
            }
            let attached = if opt.starts_with("--") {
                v.strip_prefix(opt).and_then(|rest| rest.strip_prefix('='))
            } else if opt.len() == 2 && !v.starts_with("--") {
                v.strip_prefix(opt).filter(|rest| !rest.is_empty())
            } else {
                None
            };
            if let Some(value) = attached {
                out.push(Arg::lit(value));
                break;
            }
        }
    }
    out
}

fn has_flag(args: &[Arg], flags: &[&str]) -> bool {
    args.iter()
        .take_while(|a| a.v() != Some("--"))
        .any(|a| a.v().is_some_and(|v| flags.contains(&v)))
}

/// Runs code given as a string or a file, which a static reading cannot follow.
struct Interpreter {
    /// Short flag letters (alone or in a cluster) that take inline code: `python -c`, `perl -e`.
    inline_short: &'static [char],
    /// Long flags that take inline code.
    inline_long: &'static [&'static str],
    /// Flags whose value is not the script (so the script is the next operand).
    value_opts: &'static [&'static str],
}

fn interpreter(name: &str) -> Option<Interpreter> {
    let (inline_short, inline_long, value_opts): (&[char], &[&str], &[&str]) = match name {
        n if n.starts_with("python") || n.starts_with("pypy") => (&['c'], &[], &["-W", "-X", "-Q"]),
        "node" | "nodejs" => (&['e', 'p'], &["--eval", "--print"], &["-r", "--require"]),
        "perl" => (&['e', 'E'], &[], &["-I", "-M", "-m"]),
        "ruby" => (&['e'], &[], &["-I", "-r"]),
        "php" => (&['r'], &[], &["-c", "-d"]),
        "lua" | "luajit" | "Rscript" | "osascript" => (&['e'], &[], &["-l"]),
        "pwsh" | "powershell" => (
            &['c', 'e'],
            &["-Command", "-command", "-EncodedCommand", "-encodedcommand"],
            &[],
        ),
        "fish" | "csh" | "tcsh" | "tclsh" | "wish" | "expect" => (&['c'], &[], &[]),
        _ => return None,
    };
    Some(Interpreter {
        inline_short,
        inline_long,
        value_opts,
    })
}

/// How a program treats its operands, for the programs whose operands are all alike.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Operands {
    /// Files it reads.
    Read,
    /// Files it creates or modifies.
    Write,
    /// Files it deletes (written, and destructive).
    Delete,
    /// Files it reads and rewrites (editors, in-place compressors).
    ReadWrite,
    /// Arguments that are not paths.
    NotPaths,
}

/// Programs with uniform operands, and the flags that take a value (so the value is skipped).
fn uniform(name: &str) -> Option<(Operands, &'static [&'static str])> {
    use Operands::{Delete, NotPaths, Read, ReadWrite, Write};
    let entry: (Operands, &[&str]) = match name {
        "cat" | "tac" | "nl" | "less" | "more" | "most" | "bat" | "batcat" | "view" | "wc"
        | "comm" | "cmp" | "base32" | "file" | "md5sum" | "sha1sum" | "sha224sum" | "sha256sum"
        | "sha384sum" | "sha512sum" | "cksum" | "b2sum" | "sum" | "realpath" | "readlink"
        | "zcat" | "bzcat" | "xzcat" | "zless" | "zmore" | "lzcat" | "rev" | "expand"
        | "unexpand" | "look" | "open" | "xdg-open" => (Read, &[]),
        "head" | "tail" => (Read, &["-n", "-c", "--lines", "--bytes", "-s", "--pid"]),
        "cut" => (
            Read,
            &["-d", "-f", "-b", "-c", "--delimiter", "--output-delimiter"],
        ),
        "paste" => (Read, &["-d", "--delimiters"]),
        "join" => (Read, &["-t", "-1", "-2", "-j", "-o", "-e"]),
        "uniq" => (Read, &["-f", "-s", "-w"]),
        "diff" | "sdiff" | "diff3" => (Read, &["-x", "-X", "-I", "-F", "-L", "--label"]),
        "base64" => (Read, &["-w", "--wrap"]),
        "xxd" => (Read, &["-l", "-s", "-c", "-g", "-o"]),
        "od" => (Read, &["-A", "-j", "-N", "-t", "-w"]),
        "hexdump" | "hd" => (Read, &["-n", "-s", "-e", "-f"]),
        "strings" => (Read, &["-n", "-t", "-e"]),
        "stat" => (Read, &["-c", "-f", "--format", "--printf"]),
        "shasum" => (Read, &["-a", "--algorithm"]),
        "ls" | "tree" | "du" => (
            Read,
            &["-I", "-w", "-T", "-L", "-P", "-d", "--ignore", "--hide"],
        ),
        "fold" | "fmt" => (Read, &["-w", "--width"]),
        "column" => (Read, &["-s", "-c", "-o"]),
        "pr" => (Read, &["-w", "-l", "-h"]),
        "split" | "csplit" => (Read, &["-l", "-b", "-n", "-a", "-C", "-f"]),
        "iconv" => (Read, &["-f", "-t", "--from-code", "--to-code"]),
        "touch" => (Write, &["-d", "-r", "-t", "--date", "--reference"]),
        "mkdir" | "mkfifo" | "mknod" => (Write, &["-m", "--mode"]),
        "tee" => (Write, &[]),
        "rm" | "rmdir" | "unlink" | "srm" => (Delete, &[]),
        "shred" => (Delete, &["-n", "-s", "--iterations", "--size"]),
        "truncate" => (Delete, &["-s", "-r", "--size", "--reference"]),
        "wipefs" | "fdisk" | "sfdisk" | "cfdisk" | "parted" | "mkswap" | "blkdiscard" => {
            (Delete, &["-t", "-o", "-L", "-U"])
        }
        n if n.starts_with("mkfs") => (Delete, &["-t", "-L", "-b", "-n", "-N", "-O", "-U"]),
        "vi" | "vim" | "nvim" | "gvim" | "mvim" | "nano" | "pico" | "emacs" | "code" | "subl"
        | "ed" | "ex" | "micro" | "hx" | "helix" | "kak" | "gedit" | "kate" | "joe" | "mcedit" => {
            (ReadWrite, &["-c", "-S", "-u", "-T", "--cmd"])
        }
        "dos2unix" | "unix2dos" | "gzip" | "gunzip" | "bzip2" | "bunzip2" | "xz" | "unxz"
        | "zstd" | "unzstd" | "lz4" | "compress" | "uncompress" => {
            (ReadWrite, &["-S", "--suffix", "-b", "-T", "-o"])
        }
        "echo" | "printf" | "true" | "false" | ":" | "test" | "[" | "exit" | "return"
        | "export" | "unset" | "set" | "shift" | "read" | "local" | "declare" | "typeset"
        | "readonly" | "alias" | "unalias" | "type" | "which" | "whereis" | "hash" | "whoami"
        | "id" | "date" | "sleep" | "pwd" | "hostname" | "uname" | "seq" | "yes" | "expr"
        | "jobs" | "wait" | "fg" | "bg" | "disown" | "ulimit" | "umask" | "history" | "clear"
        | "let" | "getopts" | "logout" | "shopt" | "printenv" | "tput" | "stty" | "tty"
        | "nproc" | "uptime" | "groups" | "arch" | "logname" | "users" | "w" | "who" | "ps"
        | "top" | "htop" | "free" | "df" | "basename" | "dirname" | "mktemp" | "mapfile"
        | "readarray" | "sync" | "break" | "continue" | "times" | "caller" | "complete"
        | "compgen" | "dirs" | "help" | "enable" => (NotPaths, &[]),
        _ => return None,
    };
    Some(entry)
}

/// Programs that talk to the network whatever their arguments; their operands get the unknown
/// program rule.
const NETWORK: &[&str] = &[
    "nc",
    "ncat",
    "netcat",
    "telnet",
    "ftp",
    "tftp",
    "lftp",
    "sftp",
    "socat",
    "nslookup",
    "dig",
    "host",
    "ping",
    "ping6",
    "traceroute",
    "tracepath",
    "mtr",
    "whois",
    "aws",
    "gcloud",
    "gsutil",
    "az",
    "kubectl",
    "gh",
    "ssh-copy-id",
    "ssh-keyscan",
    "mosh",
];

/// Wrappers that run their operand as a command: the flags that take a value, and how many
/// operands come before the command.
fn wrapper(name: &str) -> Option<(&'static [&'static str], usize)> {
    Some(match name {
        "nice" => (&["-n", "--adjustment"], 0),
        "nohup" | "builtin" | "setsid" | "unbuffer" | "busybox" => (&[], 0),
        "time" => (&["-o", "-f", "--output", "--format"], 0),
        "timeout" => (&["-s", "-k", "--signal", "--kill-after"], 1),
        "exec" => (&["-a"], 0),
        "command" => (&[], 0),
        "stdbuf" => (&["-i", "-o", "-e"], 0),
        "ionice" => (&["-c", "-n", "-p", "-t"], 0),
        "taskset" => (&[], 1),
        "chroot" => (&["--userspec", "--groups"], 1),
        "strace" | "ltrace" => (&["-o", "-e", "-p", "-s", "-u", "-a", "-E", "-I", "-b"], 0),
        "caffeinate" => (&["-t", "-w"], 0),
        _ => return None,
    })
}

impl Analyzer {
    /// What running `args` does, by what the program is known to do. The rules:
    ///
    /// - Wrappers (`sudo`, `env`, `timeout`, `xargs`, `find -exec`, ...) and shells with `-c`
    ///   run their inner command, which is analyzed too.
    /// - Known readers and writers report their file operands; a dynamic one makes the command
    ///   opaque, since the file cannot be named.
    /// - Unknown programs: every static operand (and `--flag=value` value) that contains `/`,
    ///   `.` or `~` and is not a URL is reported as read. This over-approximates on purpose;
    ///   a deny-oriented policy prefers a false match to a missed secret. Dynamic operands of
    ///   unknown programs are ignored.
    pub(super) fn run(&mut self, args: &[Arg], depth: usize) {
        if depth > MAX_DEPTH {
            self.opaque("nesting too deep");
            return;
        }
        let Some((first, rest)) = args.split_first() else {
            return;
        };
        let Some(path) = first.v() else {
            self.opaque("dynamic command name");
            return;
        };
        let name = base_name(path);
        if name.is_empty() {
            return;
        }
        self.programs.insert(name);
        let long_force = |a: &Arg| {
            a.v().is_some_and(|v| {
                v == "--force" || v.starts_with("--force-with-lease") || v == "--force-if-includes"
            })
        };
        if rest.iter().any(long_force) {
            self.force = true;
        }
        if matches!(name, "rm" | "cp" | "mv" | "ln" | "git")
            && rest.iter().any(|a| a.short_has('f'))
        {
            self.force = true;
        }
        match name {
            "sudo" | "sudoedit" | "doas" | "pkexec" | "runuser" | "su" => {
                self.privileged(name, rest, depth);
            }
            "env" => self.env(rest, depth),
            "xargs" => self.xargs(rest, depth),
            "watch" => {
                let ops = operands(rest, &["-n", "--interval", "-d", "-g", "-q"]);
                let joined: Vec<Arg> = ops.into_iter().cloned().collect();
                if joined.iter().any(|a| a.v().is_none()) {
                    self.opaque("dynamic shell code");
                } else if !joined.is_empty() {
                    // watch runs its operands joined by spaces through `sh -c`.
                    self.code(Some(&Arg::lit(&display(&joined))), depth);
                }
            }
            "flock" => {
                if let Some(code) = option_values(rest, &["-c", "--command"]).first() {
                    self.code(Some(code), depth);
                } else {
                    self.skip_then_run(
                        rest,
                        &["-w", "-E", "--timeout", "--conflict-exit-code"],
                        1,
                        depth,
                    );
                }
            }
            "command" if has_flag(rest, &["-v", "-V"]) => {}
            "sh" | "bash" | "zsh" | "dash" | "ksh" | "mksh" | "ash" | "yash" | "posh" | "rbash" => {
                self.shell(rest, depth);
            }
            "eval" => {
                self.opaque("eval");
                // Still read what is visible, so the policy sees the programs.
                if rest.iter().all(|a| a.v().is_some()) {
                    self.code(Some(&Arg::lit(&display(rest))), depth);
                }
            }
            "source" | "." => {
                if let Some(script) = operands(rest, &[]).first() {
                    self.read(script);
                }
                self.opaque("sourced script not analyzed");
            }
            "trap" => {
                let ops = operands(rest, &[]);
                if ops.len() > 1 {
                    self.code(ops.first().copied(), depth);
                }
            }
            "find" => self.find(rest, depth),
            "git" => self.git(rest),
            "cd" | "pushd" | "popd" => {
                self.changes_dir = true;
                // The directory entered is itself touched: `cd ~/.axtary && cat node.key`
                // must be seen as reaching into Axtary's home.
                for target in operands(rest, &[]) {
                    self.read(target);
                }
            }
            "cp" | "mv" | "install" | "ln" => self.copy(name, rest),
            "chmod" | "chown" | "chgrp" => {
                let with_reference = rest
                    .iter()
                    .any(|a| a.v().is_some_and(|v| v.starts_with("--reference")));
                let ops = operands(rest, &[]);
                let skip = usize::from(!with_reference);
                for target in ops.iter().skip(skip) {
                    self.write(target);
                }
                if rest
                    .iter()
                    .any(|a| a.short_has('R') || a.v() == Some("--recursive"))
                {
                    self.destructive = true;
                }
            }
            "dd" => {
                self.destructive = true;
                for arg in rest {
                    match arg.v() {
                        Some(v) => {
                            if let Some(file) = v.strip_prefix("if=") {
                                self.read(&Arg::lit(file));
                            } else if let Some(file) = v.strip_prefix("of=") {
                                self.write(&Arg::lit(file));
                            }
                        }
                        None => self.opaque("dynamic argument"),
                    }
                }
            }
            "sort" => {
                let value_opts = [
                    "-o",
                    "--output",
                    "-k",
                    "-t",
                    "-S",
                    "-T",
                    "--key",
                    "--field-separator",
                    "--buffer-size",
                    "--temporary-directory",
                ];
                for out in option_values(rest, &["-o", "--output"]) {
                    self.write(&out);
                }
                for file in operands(rest, &value_opts) {
                    self.read(file);
                }
            }
            "grep" | "egrep" | "fgrep" | "zgrep" | "rg" | "ag" | "ack" => self.grep(name, rest),
            "sed" | "gsed" => self.sed(rest),
            "awk" | "gawk" | "mawk" | "nawk" => self.awk(rest),
            "jq" | "yq" | "gojq" | "jaq" => self.jq(rest),
            "tar" | "bsdtar" | "gtar" => self.tar(rest),
            "zip" => {
                let ops = operands(rest, &["-P", "-x", "-i", "-b", "-n", "-t", "--password"]);
                if let Some((archive, files)) = ops.split_first() {
                    self.write(archive);
                    files.iter().for_each(|f| self.read(f));
                }
            }
            "unzip" => {
                for dir in option_values(rest, &["-d"]) {
                    self.write(&dir);
                }
                if let Some(archive) = operands(rest, &["-d", "-x", "-P"]).first() {
                    self.read(archive);
                }
            }
            "scp" | "rsync" => self.remote_copy(name, rest),
            "ssh" => {
                self.network = true;
                for file in option_values(rest, &["-i", "-F"]) {
                    self.read(&file);
                }
                for file in option_values(rest, &["-E"]) {
                    self.write(&file);
                }
            }
            "curl" => self.curl(rest),
            "wget" => self.wget(rest),
            "http" | "https" | "xh" | "xhs" | "httpie" => self.httpie(rest),
            "kill" => {
                let sigkill = rest
                    .iter()
                    .any(|a| matches!(a.v(), Some("-9" | "-KILL" | "-SIGKILL" | "-s9")))
                    || option_values(rest, &["-s", "-n", "--signal"])
                        .iter()
                        .any(|s| matches!(s.v(), Some("9" | "KILL" | "SIGKILL")));
                if sigkill {
                    self.destructive = true;
                }
            }
            "killall" | "pkill" => self.destructive = true,
            "crontab" if has_flag(rest, &["-r", "--remove"]) => self.destructive = true,
            _ => {
                if let Some(interp) = interpreter(name) {
                    self.interpreter(name, &interp, rest);
                } else if let Some((value_opts, skip)) = wrapper(name) {
                    self.skip_then_run(rest, value_opts, skip, depth);
                } else if let Some((kind, value_opts)) = uniform(name) {
                    self.uniform(kind, rest, value_opts);
                } else {
                    if NETWORK.contains(&name) {
                        self.network = true;
                    }
                    if name == "socat"
                        && rest.iter().any(|a| {
                            a.v().is_some_and(|v| {
                                let v = v.to_ascii_uppercase();
                                v.starts_with("EXEC:") || v.starts_with("SYSTEM:")
                            })
                        })
                    {
                        self.opaque("socat runs a command");
                    }
                    self.unknown(rest);
                }
            }
        }
    }

    fn uniform(&mut self, kind: Operands, rest: &[Arg], value_opts: &[&str]) {
        let ops = operands(rest, value_opts);
        match kind {
            Operands::Read => ops.iter().for_each(|a| self.read(a)),
            Operands::Write => ops.iter().for_each(|a| self.write(a)),
            Operands::ReadWrite => ops.iter().for_each(|a| self.path(a, true, true)),
            Operands::Delete => {
                self.destructive = true;
                ops.iter().for_each(|a| self.write(a));
            }
            Operands::NotPaths => {}
        }
    }

    /// Unknown programs: see the rule on [`Analyzer::run`].
    fn unknown(&mut self, rest: &[Arg]) {
        for arg in rest {
            let Some(v) = arg.v() else { continue };
            let candidate = if arg.is_flag() {
                match v.split_once('=') {
                    Some((_, value)) if v.starts_with("--") => value,
                    _ => continue,
                }
            } else {
                v
            };
            if candidate.contains(['/', '.', '~']) && !candidate.contains("://") {
                self.paths_read.insert(candidate);
            }
        }
    }

    /// Skips the wrapper's flags and `skip` operands, then runs the rest as a command.
    fn skip_then_run(&mut self, rest: &[Arg], value_opts: &[&str], skip: usize, depth: usize) {
        let start = command_start(rest, value_opts, skip, false);
        self.inner(rest.get(start..).unwrap_or_default(), depth);
    }

    fn privileged(&mut self, name: &str, rest: &[Arg], depth: usize) {
        self.sudo = true;
        match name {
            "su" => self.code(option_values(rest, &["-c", "--command"]).first(), depth),
            "runuser" if has_flag(rest, &["-c", "--command"]) => {
                self.code(option_values(rest, &["-c", "--command"]).first(), depth);
            }
            "sudoedit" => operands(rest, &["-u", "-g"])
                .iter()
                .for_each(|a| self.path(a, true, true)),
            "sudo"
                if rest
                    .iter()
                    .any(|a| a.short_has('e') || a.v() == Some("--edit")) =>
            {
                let value_opts = ["-u", "-g", "-h", "-p", "-C", "-D", "-r", "-t", "-U", "-T"];
                operands(rest, &value_opts)
                    .iter()
                    .for_each(|a| self.path(a, true, true));
            }
            _ => {
                let value_opts: &[&str] = &[
                    "-u",
                    "-g",
                    "-h",
                    "-p",
                    "-C",
                    "-D",
                    "-r",
                    "-t",
                    "-U",
                    "-T",
                    "--user",
                    "--group",
                    "--host",
                    "--prompt",
                    "--close-from",
                    "--chdir",
                    "--role",
                    "--type",
                    "--other-user",
                    "--command-timeout",
                    "-G",
                ];
                let start = command_start(rest, value_opts, 0, true);
                self.inner(rest.get(start..).unwrap_or_default(), depth);
            }
        }
    }

    fn env(&mut self, rest: &[Arg], depth: usize) {
        if has_flag(rest, &["-C", "--chdir"])
            || rest
                .iter()
                .any(|a| a.v().is_some_and(|v| v.starts_with("--chdir=")))
        {
            self.changes_dir = true;
        }
        // `env -S 'cmd args'` splits a string into a command line; read it as shell code.
        if let Some(split) = option_values(rest, &["-S", "--split-string"]).first() {
            self.code(Some(split), depth);
            return;
        }
        let start = command_start(rest, &["-u", "--unset", "-C", "--chdir"], 0, true);
        self.inner(rest.get(start..).unwrap_or_default(), depth);
    }

    fn xargs(&mut self, rest: &[Arg], depth: usize) {
        for file in option_values(rest, &["-a", "--arg-file"]) {
            self.read(&file);
        }
        let value_opts = [
            "-I",
            "-d",
            "-n",
            "-P",
            "-L",
            "-s",
            "-E",
            "-a",
            "--arg-file",
            "--delimiter",
            "--max-args",
            "--max-procs",
            "--max-lines",
            "--max-chars",
            "--replace",
            "--eof",
        ];
        let start = command_start(rest, &value_opts, 0, false);
        let inner = rest.get(start..).unwrap_or_default();
        if inner.is_empty() {
            self.programs.insert("echo");
            return;
        }
        // The arguments come from stdin, so a path-taking program gets files nobody can name.
        if let Some(name) = inner.first().and_then(Arg::v).map(base_name) {
            let takes_paths = uniform(name).is_some_and(|(kind, _)| kind != Operands::NotPaths)
                || matches!(
                    name,
                    "cp" | "mv"
                        | "ln"
                        | "install"
                        | "chmod"
                        | "chown"
                        | "grep"
                        | "sed"
                        | "awk"
                        | "tar"
                        | "dd"
                );
            if takes_paths {
                self.opaque("xargs supplies arguments at run time");
            }
        }
        self.inner(inner, depth);
    }

    /// `sh [options] [-c code | script | (stdin)]`.
    fn shell(&mut self, rest: &[Arg], depth: usize) {
        let mut inline = false;
        let mut i = 0;
        while let Some(arg) = rest.get(i) {
            i += 1;
            let Some(v) = arg.v() else {
                i -= 1;
                break;
            };
            if v == "--" {
                break;
            }
            if matches!(v, "-o" | "+o" | "-O" | "+O" | "--rcfile" | "--init-file") {
                i += 1;
            } else if v.starts_with("--") {
                // --norc, --login, ...
            } else if (v.starts_with('-') || v.starts_with('+')) && v.len() > 1 {
                inline |= v.contains('c');
            } else {
                i -= 1;
                break;
            }
        }
        let operand = rest.get(i);
        if inline {
            self.code(operand, depth);
        } else if let Some(script) = operand {
            self.read(script);
            self.opaque("script file not analyzed");
        } else {
            self.opaque("shell reads commands from stdin");
        }
    }

    fn interpreter(&mut self, name: &str, interp: &Interpreter, rest: &[Arg]) {
        let inline = rest.iter().take_while(|a| a.v() != Some("--")).any(|a| {
            let Some(v) = a.v() else { return false };
            interp
                .inline_long
                .iter()
                .any(|l| v == *l || v.strip_prefix(l).is_some_and(|r| r.starts_with('=')))
                || (v.starts_with('-') && !v.starts_with("--") && {
                    // The inline-code letter may end a cluster (`perl -ne`), not sit in a value.
                    let letters = v.trim_start_matches('-');
                    letters
                        .chars()
                        .next()
                        .is_some_and(|c| interp.inline_short.contains(&c))
                        || letters
                            .chars()
                            .last()
                            .is_some_and(|c| interp.inline_short.contains(&c))
                })
        });
        if inline {
            self.opaque("inline interpreter code");
            return;
        }
        let python = name.starts_with("python") || name.starts_with("pypy");
        if python
            && rest
                .iter()
                .any(|a| a.v().is_some_and(|v| v.starts_with("-m")))
        {
            self.opaque("interpreter module not analyzed");
            return;
        }
        match operands(rest, interp.value_opts).first() {
            Some(script) => {
                self.read(script);
                self.opaque("script file not analyzed");
            }
            None if rest.is_empty() => self.opaque("interpreter reads code from stdin"),
            None => {}
        }
    }

    fn find(&mut self, rest: &[Arg], depth: usize) {
        // Starting points come before the first expression token.
        let starts: Vec<Arg> = rest
            .iter()
            .take_while(|a| {
                !a.v()
                    .is_some_and(|v| v.starts_with('-') || v == "(" || v == "!")
            })
            .cloned()
            .collect();
        starts.iter().for_each(|a| self.read(a));
        let mut i = starts.len();
        while let Some(arg) = rest.get(i) {
            i += 1;
            match arg.v() {
                Some("-delete") => {
                    self.destructive = true;
                    starts.iter().for_each(|a| self.write(a));
                }
                Some("-fprint" | "-fprint0" | "-fprintf" | "-fls") => {
                    if let Some(file) = rest.get(i) {
                        self.write(file);
                    }
                }
                Some("-exec" | "-execdir" | "-ok" | "-okdir") => {
                    let begin = i;
                    while rest
                        .get(i)
                        .is_some_and(|a| !matches!(a.v(), Some(";" | "+")))
                    {
                        i += 1;
                    }
                    let inner = rest.get(begin..i).unwrap_or_default();
                    i += 1;
                    // `{}` stands for the files found, which are under the starting points:
                    // substitute them, so `find ~/.ssh -exec cat {} \;` reads `~/.ssh`.
                    let start = starts.first().cloned().unwrap_or_else(|| Arg::lit("."));
                    let substituted: Vec<Arg> = inner
                        .iter()
                        .map(|a| {
                            if a.v() == Some("{}") {
                                start.clone()
                            } else {
                                a.clone()
                            }
                        })
                        .collect();
                    self.commands.insert(&display(inner));
                    self.run(&substituted, depth + 1);
                }
                _ => {}
            }
        }
    }

    fn git(&mut self, rest: &[Arg]) {
        // Global options come before the subcommand; some take a value.
        let mut i = 0;
        while let Some(arg) = rest.get(i) {
            match arg.v() {
                // The repository git works in is itself touched: `git -C ~/.axtary log`.
                Some("-C" | "--git-dir" | "--work-tree") => {
                    if let Some(dir) = rest.get(i + 1) {
                        self.read(dir);
                    }
                    i += 2;
                }
                Some("--namespace" | "--exec-path" | "--config-env") => i += 2,
                Some("-c") => {
                    if let Some(setting) = rest.get(i + 1).and_then(Arg::v) {
                        let key = setting
                            .split('=')
                            .next()
                            .unwrap_or_default()
                            .to_ascii_lowercase();
                        if GIT_KEYS_THAT_RUN.iter().any(|r| key.contains(r)) {
                            self.opaque("git config that runs commands");
                        }
                    }
                    i += 2;
                }
                Some(v) if v.starts_with('-') => i += 1,
                _ => break,
            }
        }
        let Some(sub) = rest.get(i) else { return };
        let args = rest.get(i + 1..).unwrap_or_default();
        let Some(sub) = sub.v() else {
            self.opaque("dynamic git subcommand");
            return;
        };
        let forced = args.iter().any(|a| {
            a.short_has('f')
                || matches!(a.v(), Some(v) if v == "--force" || v.starts_with("--force-with-lease"))
        });
        match sub {
            "push" => {
                self.network = true;
                self.git_push = true;
                let plus_refspec = operands(
                    args,
                    &["-o", "--push-option", "--repo", "--receive-pack", "--exec"],
                )
                .iter()
                .any(|a| a.v().is_some_and(|v| v.starts_with('+')));
                if forced || plus_refspec {
                    self.force = true;
                    self.destructive = true;
                }
                let deletes = has_flag(args, &["-d", "--delete", "--prune", "--mirror"])
                    || operands(args, &[])
                        .iter()
                        .skip(1)
                        .any(|a| a.v().is_some_and(|v| v.starts_with(':')));
                if deletes {
                    self.destructive = true;
                }
            }
            "fetch" | "pull" | "clone" | "ls-remote" => self.network = true,
            "remote" | "submodule"
                if operands(args, &[])
                    .first()
                    .is_some_and(|a| matches!(a.v(), Some("update" | "prune" | "show"))) =>
            {
                self.network = true;
            }
            "reset" if has_flag(args, &["--hard"]) => self.destructive = true,
            "clean"
                if forced
                    && !args
                        .iter()
                        .any(|a| a.short_has('n') || a.v() == Some("--dry-run")) =>
            {
                self.destructive = true;
            }
            "branch"
                if args.iter().any(|a| a.short_has('D'))
                    || (forced && has_flag(args, &["-d", "--delete"])) =>
            {
                self.destructive = true;
            }
            "stash"
                if operands(args, &[])
                    .first()
                    .is_some_and(|a| matches!(a.v(), Some("drop" | "clear"))) =>
            {
                self.destructive = true;
            }
            "rm" => {
                self.destructive = true;
                operands(args, &[]).iter().for_each(|a| self.write(a));
            }
            "mv" => operands(args, &[]).iter().for_each(|a| self.write(a)),
            // Settings that make later git commands run programs.
            "config"
                if operands(args, &[])
                    .first()
                    .and_then(|a| a.v())
                    .is_some_and(|key| {
                        let key = key.to_ascii_lowercase();
                        GIT_KEYS_THAT_RUN.iter().any(|r| key.contains(r))
                    }) =>
            {
                self.opaque("git config that runs commands");
            }
            // Commands that read files from the work tree or from history: `git show HEAD:.env`,
            // `git diff --no-index .env /dev/null`. Operands that look like paths count as read
            // (after a `rev:` prefix), an over-approximation that deny rules want.
            "show" | "diff" | "log" | "blame" | "cat-file" | "grep" | "archive" | "checkout"
            | "restore" | "annotate" | "difftool" => {
                for op in operands(args, &[]) {
                    let Some(v) = op.v() else { continue };
                    // `rev:path` names a file in history; a bare operand may be a path or a
                    // revision, and anything that looks like a path counts.
                    let path = v.split_once(':').map_or(v, |(_, p)| p);
                    if path.is_empty() || NOT_FILE_PATHS.contains(&path) || is_rev_range(v) {
                        continue;
                    }
                    if v.contains(':')
                        || path.contains('/')
                        || path.contains('.')
                        || path.starts_with('~')
                    {
                        self.read(&Arg::lit(path));
                    }
                }
            }
            _ => {}
        }
    }

    /// `cp`/`mv`/`install`/`ln`: sources read (and for `mv` removed), the destination written.
    fn copy(&mut self, name: &str, rest: &[Arg]) {
        let value_opts = [
            "-t",
            "--target-directory",
            "-S",
            "--suffix",
            "-m",
            "-o",
            "-g",
            "--mode",
            "--owner",
            "--group",
        ];
        let ops = operands(rest, &value_opts);
        let targets = option_values(rest, &["-t", "--target-directory"]);
        let (sources, dest): (&[&Arg], Option<&Arg>) = if !targets.is_empty() {
            (&ops, None)
        } else if name == "install" && has_flag(rest, &["-d", "--directory"]) {
            ops.iter().for_each(|a| self.write(a));
            return;
        } else {
            match ops.split_last() {
                Some((last, init)) => (init, Some(*last)),
                None => (&[], None),
            }
        };
        for target in &targets {
            self.write(target);
        }
        if let Some(dest) = dest {
            self.write(dest);
        }
        for source in sources {
            self.path(source, true, name == "mv");
        }
    }

    fn grep(&mut self, name: &str, rest: &[Arg]) {
        let value_opts: &[&str] = if name == "rg" {
            &[
                "-e",
                "-f",
                "-g",
                "-t",
                "-T",
                "-m",
                "-A",
                "-B",
                "-C",
                "-E",
                "-j",
                "-M",
                "-d",
                "--glob",
                "--iglob",
                "--type",
                "--type-not",
                "--max-count",
                "--regexp",
                "--file",
                "--encoding",
                "--sort",
                "--sortr",
                "--max-depth",
                "--context",
                "--after-context",
                "--before-context",
                "--replace",
                "-r",
            ]
        } else {
            &[
                "-e",
                "-f",
                "-m",
                "-A",
                "-B",
                "-C",
                "-d",
                "-D",
                "--regexp",
                "--file",
                "--max-count",
                "--context",
                "--label",
                "--binary-files",
                "--include",
                "--exclude",
                "--exclude-from",
                "--exclude-dir",
            ]
        };
        for file in option_values(rest, &["-f", "--file", "--exclude-from"]) {
            self.read(&file);
        }
        let explicit_pattern = !option_values(rest, &["-e", "--regexp", "-f", "--file"]).is_empty();
        let ops = operands(rest, value_opts);
        let files = if explicit_pattern {
            &ops[..]
        } else {
            ops.get(1..).unwrap_or_default()
        };
        files.iter().for_each(|a| self.read(a));
        // Searching without a path: rg, ag, ack and `grep -r` search the working directory.
        let recursive = name != "grep" && name != "egrep" && name != "fgrep" && name != "zgrep"
            || rest.iter().any(|a| {
                a.short_has('r')
                    || a.short_has('R')
                    || matches!(a.v(), Some("--recursive" | "--dereference-recursive"))
            });
        if files.is_empty() && recursive {
            self.paths_read.insert(".");
        }
    }

    fn sed(&mut self, rest: &[Arg]) {
        let in_place = rest.iter().any(|a| {
            a.v().is_some_and(|v| {
                v.starts_with("--in-place")
                    || (v.starts_with('-') && !v.starts_with("--") && v.contains('i'))
            })
        });
        for file in option_values(rest, &["-f", "--file"]) {
            self.read(&file);
        }
        let explicit_script =
            !option_values(rest, &["-e", "--expression", "-f", "--file"]).is_empty();
        let ops = operands(
            rest,
            &["-e", "-f", "-l", "--expression", "--file", "--line-length"],
        );
        let files = if explicit_script {
            &ops[..]
        } else {
            ops.get(1..).unwrap_or_default()
        };
        files.iter().for_each(|a| self.path(a, true, in_place));
    }

    fn awk(&mut self, rest: &[Arg]) {
        for file in option_values(rest, &["-f", "--file", "-i", "--include"]) {
            self.read(&file);
        }
        let value_opts = [
            "-f",
            "-v",
            "-F",
            "-i",
            "-e",
            "-l",
            "--file",
            "--assign",
            "--field-separator",
            "--include",
            "--source",
        ];
        let explicit_program = !option_values(rest, &["-f", "--file", "-e", "--source"]).is_empty();
        let ops = operands(rest, &value_opts);
        let (program, files) = if explicit_program {
            (None, &ops[..])
        } else {
            (ops.first(), ops.get(1..).unwrap_or_default())
        };
        // awk can run commands and write files from its program text.
        if let Some(text) = program.and_then(|p| p.v())
            && (text.contains("system")
                || text.contains("getline")
                || text.contains("| \"")
                || text.contains("|\"")
                || text.contains("print >")
                || text.contains("printf >")
                || text.contains("print>"))
        {
            self.opaque("awk program runs commands or writes files");
        }

        for file in files {
            // `var=value` operands are assignments, not files.
            if file
                .v()
                .is_some_and(|v| v.split_once('=').is_some_and(|(n, _)| is_name(n)))
            {
                continue;
            }
            self.read(file);
        }
    }

    fn jq(&mut self, rest: &[Arg]) {
        let mut i = 0;
        let mut filter_seen = false;
        let mut from_file = false;
        let mut only_args = false;
        while let Some(arg) = rest.get(i) {
            i += 1;
            match arg.v() {
                Some("--arg" | "--argjson") => i += 2,
                Some("--slurpfile" | "--rawfile") => {
                    if let Some(file) = rest.get(i + 1) {
                        self.read(file);
                    }
                    i += 2;
                }
                Some("-f" | "--from-file") => {
                    if let Some(file) = rest.get(i) {
                        self.read(file);
                    }
                    from_file = true;
                    i += 1;
                }
                Some("--indent" | "-L") => i += 1,
                Some("--args" | "--jsonargs") => only_args = true,
                _ if arg.is_flag() => {}
                _ if only_args && filter_seen => {}
                _ if !filter_seen && !from_file => filter_seen = true,
                _ => self.read(arg),
            }
        }
    }

    fn tar(&mut self, rest: &[Arg]) {
        // Old-style `tar czf out.tgz dir`: the first word is a flag cluster without a dash.
        let first_is_cluster = rest.first().and_then(Arg::v).is_some_and(|v| {
            !v.starts_with('-') && !v.is_empty() && v.chars().all(|c| c.is_ascii_alphabetic())
        });
        let cluster = |a: &Arg, idx: usize| {
            a.v().is_some_and(|v| {
                (v.starts_with('-') && !v.starts_with("--")) || (idx == 0 && first_is_cluster)
            })
        };
        let create = rest.iter().enumerate().any(|(idx, a)| {
            (cluster(a, idx)
                && a.v()
                    .is_some_and(|v| v.contains('c') || v.contains('r') || v.contains('u')))
                || matches!(a.v(), Some("--create" | "--append" | "--update"))
        });
        let mut i = 0;
        while let Some(arg) = rest.get(i) {
            i += 1;
            let Some(v) = arg.v() else {
                self.opaque("dynamic argument");
                continue;
            };
            let archive = if (cluster(arg, i - 1) && v.ends_with('f')) || v == "--file" {
                let a = rest.get(i).cloned();
                i += 1;
                a
            } else if let Some(file) = v.strip_prefix("--file=") {
                Some(Arg::lit(file))
            } else if matches!(v, "-C" | "--directory") {
                if let Some(dir) = rest.get(i) {
                    self.write(dir);
                }
                i += 1;
                None
            } else if matches!(v, "-T" | "--files-from" | "-X" | "--exclude-from") {
                if let Some(list) = rest.get(i) {
                    self.read(list);
                }
                i += 1;
                None
            } else if arg.is_flag() || (i == 1 && first_is_cluster) {
                None
            } else {
                self.read(arg);
                None
            };
            if let Some(archive) = archive {
                self.path(&archive, !create, create);
            }
        }
    }

    /// scp/rsync: operands are sources then a destination; `host:path` ones are remote.
    fn remote_copy(&mut self, name: &str, rest: &[Arg]) {
        let value_opts: &[&str] = if name == "scp" {
            &["-P", "-i", "-o", "-F", "-l", "-c", "-J", "-S"]
        } else {
            &[
                "-e",
                "--rsh",
                "--exclude",
                "--include",
                "--exclude-from",
                "--include-from",
                "--files-from",
                "--filter",
                "-f",
                "--port",
                "--password-file",
                "-T",
                "--temp-dir",
                "--partial-dir",
                "--log-file",
                "--chmod",
                "--backup-dir",
                "--compare-dest",
                "--link-dest",
            ]
        };
        let reads = [
            "-i",
            "-F",
            "--exclude-from",
            "--include-from",
            "--files-from",
            "--password-file",
        ];
        for file in option_values(rest, &reads) {
            self.read(&file);
        }
        for file in option_values(rest, &["--log-file"]) {
            self.write(&file);
        }
        if rest.iter().any(|a| {
            a.v()
                .is_some_and(|v| v.starts_with("--delete") || v == "--remove-source-files")
        }) {
            self.destructive = true;
        }
        let ops = operands(rest, value_opts);
        let remote = |a: &Arg| {
            a.v().is_some_and(|v| {
                v.starts_with("rsync://")
                    || v.split_once(':')
                        .is_some_and(|(host, _)| !host.is_empty() && !host.contains('/'))
            })
        };
        if name == "scp" || ops.iter().any(|a| remote(a)) {
            self.network = true;
        }
        let Some((dest, sources)) = ops.split_last() else {
            return;
        };
        for source in sources {
            if !remote(source) {
                self.read(source);
            }
        }
        if !remote(dest) {
            self.write(dest);
        }
    }

    fn curl(&mut self, rest: &[Arg]) {
        self.network = true;
        let data = [
            "-d",
            "--data",
            "--data-binary",
            "--data-ascii",
            "--data-urlencode",
            "--json",
            "-F",
            "--form",
            "-H",
            "--header",
        ];
        for value in option_values(rest, &data) {
            let Some(v) = value.v() else {
                continue;
            };
            // `@file` sends the file; `name@file`, `name=@file` and `name=<file` too.
            let file = v
                .split_once('@')
                .filter(|(before, _)| !before.contains(['/', ':']))
                .map(|(_, after)| after)
                .or_else(|| v.split_once("=<").map(|(_, after)| after));
            if let Some(file) = file {
                let file = file.split(';').next().unwrap_or_default();
                self.read(&Arg::lit(file));
            }
        }
        for file in option_values(
            rest,
            &[
                "-T",
                "--upload-file",
                "-K",
                "--config",
                "--cert",
                "-E",
                "--key",
                "--netrc-file",
                "-b",
                "--cookie",
            ],
        ) {
            // `-T .` uploads stdin; `-b name=value` is a cookie, not a file.
            if file.v().is_some_and(|v| v == "." || v.contains('=')) {
                continue;
            }
            self.read(&file);
        }
        for file in option_values(
            rest,
            &[
                "-o",
                "--output",
                "-c",
                "--cookie-jar",
                "-D",
                "--dump-header",
                "--trace",
                "--trace-ascii",
                "--stderr",
            ],
        ) {
            self.write(&file);
        }
        for arg in rest {
            if let Some(path) = arg.v().and_then(|v| v.strip_prefix("file://")) {
                self.read(&Arg::lit(path));
            }
        }
    }

    fn wget(&mut self, rest: &[Arg]) {
        self.network = true;
        for file in option_values(
            rest,
            &[
                "-i",
                "--input-file",
                "--post-file",
                "--body-file",
                "--load-cookies",
                "--certificate",
                "--private-key",
                "--ca-certificate",
            ],
        ) {
            self.read(&file);
        }
        for file in option_values(
            rest,
            &[
                "-O",
                "--output-document",
                "-o",
                "--output-file",
                "-a",
                "--append-output",
                "-P",
                "--directory-prefix",
                "--save-cookies",
            ],
        ) {
            self.write(&file);
        }
    }

    fn httpie(&mut self, rest: &[Arg]) {
        self.network = true;
        for file in option_values(rest, &["--cert", "--cert-key"]) {
            self.read(&file);
        }
        for file in option_values(rest, &["-o", "--output"]) {
            self.write(&file);
        }
        let ops = operands(
            rest,
            &[
                "-a",
                "--auth",
                "-A",
                "--auth-type",
                "-p",
                "--print",
                "--pretty",
                "-s",
                "--style",
                "--proxy",
                "--timeout",
                "--max-redirects",
                "--verify",
                "--cert",
                "--cert-key",
                "-o",
                "--output",
                "--session",
                "--session-read-only",
            ],
        );
        for arg in ops {
            // Request items: `field@file`, `field=@file`, `field:=@file`, or `@file` as the body.
            if let Some(v) = arg.v() {
                if v.contains("://") {
                    continue;
                }
                if let Some((_, file)) = v.split_once('@') {
                    self.read(&Arg::lit(file));
                }
            }
        }
    }
}

/// The index where a wrapper's inner command starts: after its flags (and the values of
/// `value_opts`), `skip` operands and, with `assignments`, `NAME=value` words.
fn command_start(rest: &[Arg], value_opts: &[&str], skip: usize, assignments: bool) -> usize {
    let mut i = 0;
    while let Some(arg) = rest.get(i) {
        match arg.v() {
            Some("--") => return skip_n(rest, i + 1, skip),
            Some(v) if arg.is_flag() => {
                i += if value_opts.contains(&v) { 2 } else { 1 };
            }
            _ if assignments && arg.display.split_once('=').is_some_and(|(n, _)| is_name(n)) => {
                i += 1;
            }
            _ => break,
        }
    }
    skip_n(rest, i, skip)
}

fn skip_n(rest: &[Arg], from: usize, n: usize) -> usize {
    (from + n).min(rest.len())
}
