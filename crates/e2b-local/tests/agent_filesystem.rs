//! The agent's `filesystem.Filesystem` service, driven by the generated
//! client.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use e2b_envd::connect::{CallOptions, Code, Error};
use e2b_envd::filesystem::filesystem_client::FilesystemClient;
use e2b_envd::filesystem::*;
use e2b_test_support::agent::*;
use futures_util::{Stream, StreamExt};

fn write(path: &Path, content: &[u8], mode: u32) {
    std::fs::write(path, content).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

async fn stat(fs: &FilesystemClient, path: &str) -> Result<EntryInfo, Error> {
    fs.stat(StatRequest { path: path.into() }, CallOptions::new())
        .await
        .map(|r| r.entry.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stat_reports_entry_info() {
    let agent = TestAgent::start().await;
    let fs = agent.filesystem();
    let file = agent.home.join("a.txt");
    write(&file, b"hello world\n", 0o644);
    std::os::unix::fs::chown(&file, Some(1000), Some(1000)).unwrap();

    let entry = stat(&fs, "a.txt").await.unwrap();
    assert_eq!(entry.name, "a.txt");
    assert_eq!(entry.path, file.to_string_lossy());
    assert_eq!(entry.r#type, FileType::File as i32);
    assert_eq!(entry.size, 12);
    assert_eq!(entry.mode, 0o644);
    assert_eq!(entry.permissions, "-rw-r--r--");
    assert_eq!(
        (entry.owner.as_str(), entry.group.as_str()),
        ("user", "user")
    );
    assert!(entry.symlink_target.is_none());
    let modified = entry.modified_time.unwrap().to_system_time().unwrap();
    assert_eq!(
        modified,
        std::fs::metadata(&file).unwrap().modified().unwrap()
    );

    let dir = stat(&fs, &agent.home.to_string_lossy()).await.unwrap();
    assert_eq!(dir.r#type, FileType::Directory as i32);
    assert!(dir.permissions.starts_with('d'));

    std::os::unix::fs::chown(&file, Some(4242), Some(4343)).unwrap();
    let numeric = stat(&fs, "~/a.txt").await.unwrap();
    assert_eq!(
        (numeric.owner.as_str(), numeric.group.as_str()),
        ("4242", "4343")
    );

    let err = stat(&fs, "missing").await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symlinks_report_their_target() {
    let agent = TestAgent::start().await;
    let fs = agent.filesystem();
    let target = agent.home.join("target.sh");
    write(&target, b"#!/bin/sh\n", 0o755);
    std::os::unix::fs::symlink(&target, agent.home.join("link")).unwrap();
    std::os::unix::fs::symlink(agent.home.join("gone"), agent.home.join("dangling")).unwrap();

    let link = stat(&fs, "link").await.unwrap();
    assert_eq!(link.r#type, FileType::File as i32);
    assert_eq!(
        link.symlink_target.as_deref(),
        Some(&*target.to_string_lossy())
    );
    assert_eq!(link.permissions, "Lrwxrwxrwx");
    assert_eq!(link.mode, 0o755, "the target's permission bits");
    assert_eq!(link.name, "link");

    let dangling = stat(&fs, "dangling").await.unwrap();
    assert_eq!(dangling.r#type, FileType::Unspecified as i32);
    assert_eq!(dangling.permissions, "Lrwxrwxrwx");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn make_dir_creates_parents_for_the_user() {
    let agent = TestAgent::start().await;
    let fs = agent.filesystem();
    let entry = fs
        .make_dir(
            MakeDirRequest {
                path: "x/y/z".into(),
            },
            CallOptions::new(),
        )
        .await
        .unwrap()
        .entry
        .unwrap();
    assert_eq!(entry.r#type, FileType::Directory as i32);
    assert_eq!(entry.owner, "user");
    for dir in ["x", "x/y", "x/y/z"] {
        assert!(owned_by(&agent.home.join(dir), 1000), "{dir}");
    }

    let again = fs
        .make_dir(
            MakeDirRequest {
                path: "x/y/z".into(),
            },
            CallOptions::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::AlreadyExists);

    write(&agent.home.join("file"), b"", 0o644);
    let on_file = fs
        .make_dir(
            MakeDirRequest {
                path: "file".into(),
            },
            CallOptions::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(on_file.code(), Code::InvalidArgument);

    let as_root = fs
        .make_dir(
            MakeDirRequest {
                path: "rootdir".into(),
            },
            as_user("root"),
        )
        .await
        .unwrap()
        .entry
        .unwrap();
    assert_eq!(
        as_root.path,
        agent.root_home.join("rootdir").to_string_lossy()
    );
    assert_eq!(as_root.owner, "root");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn move_creates_destination_parents() {
    let agent = TestAgent::start().await;
    let fs = agent.filesystem();
    write(&agent.home.join("a.txt"), b"content", 0o644);
    let entry = fs
        .r#move(
            MoveRequest {
                source: "a.txt".into(),
                destination: "new/dir/b.txt".into(),
            },
            CallOptions::new(),
        )
        .await
        .unwrap()
        .entry
        .unwrap();
    assert_eq!(entry.name, "b.txt");
    assert_eq!(
        std::fs::read(agent.home.join("new/dir/b.txt")).unwrap(),
        b"content"
    );
    assert!(!agent.home.join("a.txt").exists());
    assert!(owned_by(&agent.home.join("new/dir"), 1000));

    let err = fs
        .r#move(
            MoveRequest {
                source: "a.txt".into(),
                destination: "c.txt".into(),
            },
            CallOptions::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

async fn list(fs: &FilesystemClient, path: &str, depth: u32) -> Result<Vec<(String, i32)>, Error> {
    let entries = fs
        .list_dir(
            ListDirRequest {
                path: path.into(),
                depth,
            },
            CallOptions::new(),
        )
        .await?
        .entries;
    Ok(entries.into_iter().map(|e| (e.path, e.r#type)).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_dir_depth_and_symlinks() {
    let agent = TestAgent::start().await;
    let fs = agent.filesystem();
    let root = agent.home.join("tree");
    std::fs::create_dir_all(root.join("d1/d2")).unwrap();
    write(&root.join("f0"), b"0", 0o644);
    write(&root.join("d1/f1"), b"1", 0o644);
    write(&root.join("d1/d2/f2"), b"2", 0o644);
    // A link to a directory is listed, never walked into.
    std::os::unix::fs::symlink(root.join("d1"), root.join("link")).unwrap();
    let r = |p: &str| root.join(p).to_string_lossy().into_owned();
    let dir = FileType::Directory as i32;
    let file = FileType::File as i32;

    let shallow = vec![(r("d1"), dir), (r("f0"), file), (r("link"), dir)];
    assert_eq!(list(&fs, "tree", 0).await.unwrap(), shallow);
    assert_eq!(list(&fs, "tree", 1).await.unwrap(), shallow);
    assert_eq!(
        list(&fs, "tree", 5).await.unwrap(),
        vec![
            (r("d1"), dir),
            (r("d1/d2"), dir),
            (r("d1/d2/f2"), file),
            (r("d1/f1"), file),
            (r("f0"), file),
            (r("link"), dir),
        ]
    );

    // Listing through a link reports paths under the link.
    let via_link = list(&fs, &r("link"), 1).await.unwrap();
    assert_eq!(via_link, vec![(r("link/d2"), dir), (r("link/f1"), file)]);

    let not_dir = list(&fs, "tree/f0", 1).await.unwrap_err();
    assert_eq!(not_dir.code(), Code::InvalidArgument);
    let missing = list(&fs, "nope", 1).await.unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_files_trees_and_nothing() {
    let agent = TestAgent::start().await;
    let fs = agent.filesystem();
    std::fs::create_dir_all(agent.home.join("t/u")).unwrap();
    write(&agent.home.join("t/u/f"), b"x", 0o644);
    write(&agent.home.join("g"), b"x", 0o644);
    std::os::unix::fs::symlink(agent.home.join("t"), agent.home.join("l")).unwrap();
    // The user removes their own tree (removal acts as the user).
    for dir in ["t", "t/u"] {
        std::os::unix::fs::chown(agent.home.join(dir), Some(1000), Some(1000)).unwrap();
    }
    for path in ["g", "l", "t", "never-existed"] {
        fs.remove(RemoveRequest { path: path.into() }, CallOptions::new())
            .await
            .unwrap();
    }
    assert!(!agent.home.join("g").exists());
    assert!(!agent.home.join("t").exists());
    assert!(std::fs::symlink_metadata(agent.home.join("l")).is_err());
}

/// Read watch messages until `done` holds for the events seen so far.
async fn watch_until<S>(
    stream: &mut S,
    seen: &mut Vec<FilesystemEvent>,
    done: impl Fn(&[FilesystemEvent]) -> bool,
) where
    S: Stream<Item = Result<WatchDirResponse, Error>> + Unpin,
{
    let work = async {
        while !done(seen) {
            let message = stream
                .next()
                .await
                .expect("the watch ended")
                .expect("a watch error");
            match message.event.expect("an event") {
                watch_dir_response::Event::Filesystem(e) => seen.push(e),
                watch_dir_response::Event::Start(_) => panic!("a second start message"),
                watch_dir_response::Event::Keepalive(_) => {}
            }
        }
    };
    tokio::time::timeout(PATIENCE, work)
        .await
        .expect("the expected events did not arrive");
}

fn has(seen: &[FilesystemEvent], name: &str, kind: EventType) -> bool {
    seen.iter()
        .any(|e| e.name == name && e.r#type == kind as i32)
}

async fn open_watch(
    fs: &FilesystemClient,
    request: WatchDirRequest,
    options: CallOptions,
) -> impl Stream<Item = Result<WatchDirResponse, Error>> + Unpin {
    let mut stream = fs.watch_dir(request, options).await.unwrap();
    let first = stream.next().await.unwrap().unwrap();
    assert!(
        matches!(first.event, Some(watch_dir_response::Event::Start(_))),
        "the first message must be start"
    );
    stream
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_dir_reports_changes() {
    let agent = TestAgent::start().await;
    let fs = agent.filesystem();
    let dir = agent.home.join("watched");
    std::fs::create_dir(&dir).unwrap();
    let request = WatchDirRequest {
        path: "watched".into(),
        include_entry: true,
        ..Default::default()
    };
    let mut stream = open_watch(&fs, request, CallOptions::new()).await;
    let mut seen = Vec::new();

    std::fs::write(dir.join("f"), b"one").unwrap();
    watch_until(&mut stream, &mut seen, |s| has(s, "f", EventType::Write)).await;
    assert!(has(&seen, "f", EventType::Create));
    let created = seen.iter().find(|e| e.name == "f").unwrap();
    assert_eq!(
        created.r#type,
        EventType::Create as i32,
        "create comes first"
    );
    assert_eq!(created.entry.as_ref().map(|e| e.name.as_str()), Some("f"));

    std::fs::rename(dir.join("f"), dir.join("g")).unwrap();
    watch_until(&mut stream, &mut seen, |s| has(s, "g", EventType::Create)).await;
    assert!(has(&seen, "f", EventType::Rename));
    let renamed = seen
        .iter()
        .find(|e| e.r#type == EventType::Rename as i32)
        .unwrap();
    assert!(
        renamed.entry.is_none(),
        "a renamed-away entry carries no info"
    );

    std::fs::set_permissions(dir.join("g"), std::fs::Permissions::from_mode(0o600)).unwrap();
    watch_until(&mut stream, &mut seen, |s| has(s, "g", EventType::Chmod)).await;
    std::fs::remove_file(dir.join("g")).unwrap();
    watch_until(&mut stream, &mut seen, |s| has(s, "g", EventType::Remove)).await;

    // Not recursive: a file in a new subdirectory is not reported.
    std::fs::create_dir(dir.join("sub")).unwrap();
    std::fs::write(dir.join("sub/inner"), b"x").unwrap();
    std::fs::write(dir.join("marker"), b"x").unwrap();
    watch_until(&mut stream, &mut seen, |s| {
        has(s, "marker", EventType::Create)
    })
    .await;
    assert!(has(&seen, "sub", EventType::Create));
    assert!(!seen.iter().any(|e| e.name.starts_with("sub/")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recursive_watch_follows_new_directories() {
    let agent = TestAgent::start().await;
    let fs = agent.filesystem();
    let dir = agent.home.join("rec");
    std::fs::create_dir_all(dir.join("existing")).unwrap();
    let request = WatchDirRequest {
        path: dir.to_string_lossy().into_owned(),
        recursive: true,
        ..Default::default()
    };
    let mut stream = open_watch(&fs, request, CallOptions::new()).await;
    let mut seen = Vec::new();

    std::fs::write(dir.join("existing/a"), b"a").unwrap();
    watch_until(&mut stream, &mut seen, |s| {
        has(s, "existing/a", EventType::Create)
    })
    .await;

    std::fs::create_dir_all(dir.join("one/two/three")).unwrap();
    std::fs::write(dir.join("one/two/three/f"), b"f").unwrap();
    watch_until(&mut stream, &mut seen, |s| {
        has(s, "one/two/three/f", EventType::Create)
    })
    .await;
    for name in ["one", "one/two", "one/two/three"] {
        assert!(has(&seen, name, EventType::Create), "{name}: {seen:?}");
    }

    std::fs::rename(dir.join("one"), dir.join("uno")).unwrap();
    std::fs::write(dir.join("uno/two/g"), b"g").unwrap();
    watch_until(&mut stream, &mut seen, |s| {
        has(s, "uno/two/g", EventType::Create)
    })
    .await;

    std::fs::remove_dir_all(dir.join("existing")).unwrap();
    watch_until(&mut stream, &mut seen, |s| {
        has(s, "existing", EventType::Remove)
    })
    .await;
    let removals = seen
        .iter()
        .filter(|e| e.name == "existing" && e.r#type == EventType::Remove as i32)
        .count();
    assert_eq!(removals, 1, "a removed subdirectory is reported once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_keepalives_and_errors() {
    let agent = TestAgent::start().await;
    let fs = agent.filesystem();
    // With a one-second interval a quiet watch sends keepalives; the client
    // consumes them, so an idle limit of 3 s is only met thanks to them.
    let options = with_header(CallOptions::new(), "keepalive-ping-interval", "1")
        .idle_timeout(std::time::Duration::from_secs(3));
    let mut stream = open_watch(
        &fs,
        WatchDirRequest {
            path: String::new(),
            ..Default::default()
        },
        options,
    )
    .await;
    // Quiet for 4 s, while the agent keeps the stream alive; then a change.
    let sleeper = agent
        .process()
        .start(
            e2b_envd::process::StartRequest {
                process: Some(e2b_envd::process::ProcessConfig {
                    cmd: "/bin/bash".into(),
                    args: vec!["-c".into(), "sleep 4; touch late".into()],
                    ..Default::default()
                }),
                ..Default::default()
            },
            CallOptions::new(),
        )
        .await
        .unwrap();
    let mut seen = Vec::new();
    watch_until(&mut stream, &mut seen, |s| {
        has(s, "late", EventType::Create)
    })
    .await;
    drop(sleeper);

    write(&agent.home.join("plain"), b"", 0o644);
    let not_dir = fs
        .watch_dir(
            WatchDirRequest {
                path: "plain".into(),
                ..Default::default()
            },
            CallOptions::new(),
        )
        .await;
    let err = match not_dir {
        Ok(mut s) => s.next().await.unwrap().unwrap_err(),
        Err(e) => e,
    };
    assert_eq!(err.code(), Code::InvalidArgument);
    let missing = match fs
        .watch_dir(
            WatchDirRequest {
                path: "missing".into(),
                ..Default::default()
            },
            CallOptions::new(),
        )
        .await
    {
        Ok(mut s) => s.next().await.unwrap().unwrap_err(),
        Err(e) => e,
    };
    assert_eq!(missing.code(), Code::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polled_watchers_drain_events() {
    let agent = TestAgent::start().await;
    let fs = agent.filesystem();
    let id = fs
        .create_watcher(
            CreateWatcherRequest {
                path: String::new(),
                ..Default::default()
            },
            CallOptions::new(),
        )
        .await
        .unwrap()
        .watcher_id;
    assert!(id.starts_with('w') && id.len() == 21, "{id}");

    std::fs::write(agent.home.join("p1"), b"x").unwrap();
    std::fs::remove_file(agent.home.join("p1")).unwrap();
    // Drain until the removal has been collected (each drain is a round
    // trip; the events are in once inotify delivered them).
    let mut seen = Vec::new();
    let work = async {
        while !has(&seen, "p1", EventType::Remove) {
            let events = fs
                .get_watcher_events(
                    GetWatcherEventsRequest {
                        watcher_id: id.clone(),
                    },
                    CallOptions::new(),
                )
                .await
                .unwrap()
                .events;
            seen.extend(events);
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(PATIENCE, work)
        .await
        .expect("events did not arrive");
    let kinds: Vec<i32> = seen
        .iter()
        .filter(|e| e.name == "p1")
        .map(|e| e.r#type)
        .collect();
    assert_eq!(
        kinds,
        [
            EventType::Create as i32,
            EventType::Write as i32,
            EventType::Remove as i32
        ]
    );
    let drained = fs
        .get_watcher_events(
            GetWatcherEventsRequest {
                watcher_id: id.clone(),
            },
            CallOptions::new(),
        )
        .await
        .unwrap();
    assert!(drained.events.is_empty(), "events are handed out once");

    fs.remove_watcher(
        RemoveWatcherRequest {
            watcher_id: id.clone(),
        },
        CallOptions::new(),
    )
    .await
    .unwrap();
    for err in [
        fs.remove_watcher(
            RemoveWatcherRequest {
                watcher_id: id.clone(),
            },
            CallOptions::new(),
        )
        .await
        .unwrap_err(),
        fs.get_watcher_events(
            GetWatcherEventsRequest { watcher_id: id },
            CallOptions::new(),
        )
        .await
        .unwrap_err(),
    ] {
        assert_eq!(err.code(), Code::NotFound);
    }
}
