// Package filter owns the global file filter: which paths of a watch set are
// never synchronised, because an editor, an office suite, the operating
// system or peerlink itself produces them and they mean nothing on another
// host. It also recognises office lock files by name, so the agent can tell
// which document a lock file belongs to.
//
// Patterns follow the familiar .gitignore shape, reduced to what a sync
// filter needs:
//
//   - A pattern without '/' matches one path element at any depth:
//     "*.bak" excludes "a.bak" and "x/y/a.bak". When it matches a folder,
//     everything below that folder is excluded too.
//   - A pattern with '/' matches the relative path from the root, element by
//     element: "build/out" excludes "build/out" and everything below it, but
//     not "src/build/out". A leading '/' only anchors ("/.peerlink" is the
//     root's .peerlink folder, not one in a sub-folder).
//   - A trailing '/' restricts the pattern to folders: "cache/".
//   - Within an element, '*', '?', '[...]' and '\' escapes mean what they
//     mean to path.Match. An element that is exactly "**" matches zero or
//     more whole elements: "**/tmp", "a/**/b", "a/**" (which, matching zero
//     elements, excludes "a" itself as well).
//
// Excluded is a pure function of the path and is safe for concurrent use;
// the patterns are compiled once so that a scan of a million paths spends
// nanoseconds per path here.
package filter
