//! Packs from git repositories, through the `git` command (so anything git
//! accepts works: `file://`, `https://`, ssh, credentials helpers). Each
//! repository is mirrored once under the cache (`$RUNNER_CACHE`, default the
//! user's cache folder + `runner`), and each pinned commit is unpacked into a
//! folder of its own there, so a pinned pack needs no network afterwards.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::{Digest, Sha256};

use super::PackError;
use super::lock::hex;

/// A git source: the URL and the optional `#REF` (tag, branch or commit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitSource {
    /// What `git clone` takes.
    pub url: String,
    /// A tag, branch or commit; `None` is the remote's default branch.
    pub rev: Option<String>,
}

impl GitSource {
    /// Splits `URL#REF`.
    pub fn parse(text: &str) -> GitSource {
        match text.rsplit_once('#') {
            Some((url, rev)) if !rev.is_empty() => GitSource {
                url: url.to_owned(),
                rev: Some(rev.to_owned()),
            },
            _ => GitSource {
                url: text.trim_end_matches('#').to_owned(),
                rev: None,
            },
        }
    }

    /// `git+URL[#REF]`, as runner.lock records it.
    pub fn display(&self) -> String {
        match &self.rev {
            Some(rev) => format!("git+{}#{rev}", self.url),
            None => format!("git+{}", self.url),
        }
    }
}

/// Whether `text` names a git repository rather than a folder.
pub fn looks_like_git(text: &str) -> bool {
    let url = GitSource::parse(text).url;
    url.contains("://") || url.starts_with("git@") || url.ends_with(".git")
}

/// The cache folder: `$RUNNER_CACHE`, else `$XDG_CACHE_HOME/runner`, else
/// `~/.cache/runner` (`%LOCALAPPDATA%\runner` on Windows).
pub fn cache_dir() -> PathBuf {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = var("RUNNER_CACHE") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = var("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("runner");
    }
    if let Some(dir) = var("LOCALAPPDATA") {
        return PathBuf::from(dir).join("runner");
    }
    var("HOME")
        .map(|home| PathBuf::from(home).join(".cache").join("runner"))
        .unwrap_or_else(|| std::env::temp_dir().join("runner-cache"))
}

/// The mirror of `url` in the cache.
fn mirror(url: &str) -> PathBuf {
    let key = hex(&Sha256::digest(url.as_bytes())[..8]);
    let tail: String = url
        .rsplit(['/', ':'])
        .find(|s| !s.is_empty())
        .unwrap_or("repo")
        .trim_end_matches(".git")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .collect();
    cache_dir().join("git").join(format!("{tail}-{key}"))
}

/// The folder holding `commit` of `url`, unpacked.
pub fn checkout_dir(url: &str, commit: &str) -> PathBuf {
    let mirror = mirror(url);
    let name = mirror.file_name().map(|n| n.to_owned()).unwrap_or_default();
    cache_dir()
        .join("checkouts")
        .join(name)
        .join(&commit[..commit.len().min(12)])
}

/// Fetches `source` (cloning its mirror on first use) and resolves its REF to a commit.
pub fn resolve(source: &GitSource) -> Result<String, PackError> {
    let mirror = mirror(&source.url);
    if mirror.join("HEAD").is_file() {
        git(
            &["fetch", "--quiet", "--prune", "--tags", "origin"],
            Some(&mirror),
            &source.url,
        )?;
    } else {
        let parent = mirror.parent().expect("the mirror is inside the cache");
        create(parent)?;
        let partial = parent.join(format!(
            ".{}.partial",
            mirror.file_name().unwrap_or_default().to_string_lossy()
        ));
        let _ = std::fs::remove_dir_all(&partial);
        let target = partial.to_string_lossy().into_owned();
        // `--` so that a URL can never be read as an option of git.
        git(
            &["clone", "--quiet", "--mirror", "--", &source.url, &target],
            None,
            &source.url,
        )?;
        std::fs::rename(&partial, &mirror).map_err(|error| PackError::Write {
            path: mirror.clone(),
            error,
        })?;
    }
    commit_of(&mirror, source)
}

fn commit_of(mirror: &Path, source: &GitSource) -> Result<String, PackError> {
    let rev = source.rev.as_deref().unwrap_or("HEAD");
    let out = run(
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            &format!("{rev}^{{commit}}"),
        ],
        Some(mirror),
    )?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned());
    }
    let refs = run(
        &[
            "for-each-ref",
            "--format=%(refname:short)",
            "refs/heads",
            "refs/tags",
        ],
        Some(mirror),
    )?;
    let known: Vec<String> = String::from_utf8_lossy(&refs.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    Err(PackError::Git {
        url: source.url.clone(),
        message: format!(
            "#{rev} is no tag, branch or commit of it (it has: {})",
            if known.is_empty() {
                "nothing".into()
            } else {
                known.join(", ")
            }
        ),
    })
}

/// The pack folder for `commit` of `url`, unpacked from the mirror when not
/// already there (fetching only if the mirror lacks the commit).
pub fn checkout(url: &str, commit: &str) -> Result<PathBuf, PackError> {
    let dir = checkout_dir(url, commit);
    if dir.is_dir() {
        return Ok(dir);
    }
    let source = GitSource {
        url: url.to_owned(),
        rev: Some(commit.to_owned()),
    };
    let mirror = mirror(url);
    if !mirror.join("HEAD").is_file() || commit_of(&mirror, &source).is_err() {
        resolve(&source)?;
    }
    let out = run(&["archive", "--format=tar", commit], Some(&mirror))?;
    if !out.status.success() {
        return Err(git_error(url, &out));
    }
    let parent = dir.parent().expect("a checkout is inside the cache");
    create(parent)?;
    let partial = parent.join(format!(".{commit}.partial"));
    let _ = std::fs::remove_dir_all(&partial);
    tar::Archive::new(out.stdout.as_slice())
        .unpack(&partial)
        .map_err(|error| PackError::Write {
            path: partial.clone(),
            error,
        })?;
    std::fs::rename(&partial, &dir).map_err(|error| PackError::Write {
        path: dir.clone(),
        error,
    })?;
    Ok(dir)
}

/// Unpacks `commit` again, replacing whatever its folder holds now.
pub fn fresh_checkout(url: &str, commit: &str) -> Result<PathBuf, PackError> {
    let dir = checkout_dir(url, commit);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|error| PackError::Write {
            path: dir.clone(),
            error,
        })?;
    }
    checkout(url, commit)
}

fn create(dir: &Path) -> Result<(), PackError> {
    std::fs::create_dir_all(dir).map_err(|error| PackError::Write {
        path: dir.to_owned(),
        error,
    })
}

fn git(args: &[&str], dir: Option<&Path>, url: &str) -> Result<(), PackError> {
    let out = run(args, dir)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(git_error(url, &out))
    }
}

fn git_error(url: &str, out: &Output) -> PackError {
    let stderr = String::from_utf8_lossy(&out.stderr);
    PackError::Git {
        url: url.to_owned(),
        message: stderr
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; "),
    }
}

/// Runs git without prompts, so a missing credential fails instead of hanging.
fn run(args: &[&str], dir: Option<&Path>) -> Result<Output, PackError> {
    let mut command = Command::new("git");
    if let Some(dir) = dir {
        command.arg("--git-dir").arg(dir);
    }
    command
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| PackError::Git {
            url: String::new(),
            message: format!("cannot run git ({e}); git sources need git on the PATH"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_split_their_ref_and_are_told_from_folders() {
        let s = GitSource::parse("file:///tmp/shop#v1.2");
        assert_eq!(s.url, "file:///tmp/shop");
        assert_eq!(s.rev.as_deref(), Some("v1.2"));
        assert_eq!(s.display(), "git+file:///tmp/shop#v1.2");
        assert_eq!(GitSource::parse("https://x/y.git").rev, None);
        assert!(looks_like_git("https://example.invalid/shop.git#main"));
        assert!(looks_like_git("git@host:team/shop"));
        assert!(looks_like_git("file:///srv/packs/shop"));
        assert!(!looks_like_git("../shop-pack"));
    }
}
