// Line diffs of two texts, for the File Conflict List's comparison of two
// hosts' copies. Pure functions: no DOM.

// Line diffs compare at most this many lines of each side.
export const DIFF_MAX_LINES = 5000;

// splitLines splits a text into lines without their line ends; a final
// line end does not make an empty last line.
function splitLines(s) {
  if (s === '') return [];
  const lines = s.split(/\r?\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

// lineDiff compares two texts line by line with a longest common
// subsequence, after setting aside the common head and tail. Each side is
// cut to max lines. ops are {t: 'same'|'del'|'add', a, b, ai, bi} with
// 1-based line numbers.
export function lineDiff(textA, textB, max = DIFF_MAX_LINES) {
  let A = splitLines(textA);
  let B = splitLines(textB);
  const capped = A.length > max || B.length > max;
  A = A.slice(0, max);
  B = B.slice(0, max);
  let head = 0;
  while (head < A.length && head < B.length && A[head] === B[head]) head++;
  let tail = 0;
  while (tail < A.length - head && tail < B.length - head && A[A.length - 1 - tail] === B[B.length - 1 - tail]) tail++;
  const a = A.slice(head, A.length - tail);
  const b = B.slice(head, B.length - tail);
  const n = a.length;
  const m = b.length;
  // L[i*(m+1)+j] is the LCS length of a[i:] and b[j:]; lengths fit in 16
  // bits since a side has at most max (< 65536) lines.
  const L = new Uint16Array((n + 1) * (m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      L[i * (m + 1) + j] = a[i] === b[j] ? L[(i + 1) * (m + 1) + j + 1] + 1
        : Math.max(L[(i + 1) * (m + 1) + j], L[i * (m + 1) + j + 1]);
    }
  }
  const ops = [];
  for (let k = 0; k < head; k++) ops.push({ t: 'same', a: A[k], b: B[k], ai: k + 1, bi: k + 1 });
  let i = 0;
  let j = 0;
  let added = 0;
  let removed = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      ops.push({ t: 'same', a: a[i], b: b[j], ai: head + i + 1, bi: head + j + 1 });
      i++; j++;
    } else if (j < m && (i === n || L[i * (m + 1) + j + 1] >= L[(i + 1) * (m + 1) + j])) {
      ops.push({ t: 'add', a: null, b: b[j], ai: 0, bi: head + j + 1 });
      j++; added++;
    } else {
      ops.push({ t: 'del', a: a[i], b: null, ai: head + i + 1, bi: 0 });
      i++; removed++;
    }
  }
  for (let k = 0; k < tail; k++) {
    const ai = A.length - tail + k;
    const bi = B.length - tail + k;
    ops.push({ t: 'same', a: A[ai], b: B[bi], ai: ai + 1, bi: bi + 1 });
  }
  return { ops, added, removed, capped, same: added === 0 && removed === 0 && !capped };
}

// sideBySide pairs each run of removed lines with the run of added lines
// next to it, so a changed line shows on one row: old left, new right.
export function sideBySide(ops) {
  const rows = [];
  for (let k = 0; k < ops.length;) {
    if (ops[k].t === 'same') { rows.push(ops[k]); k++; continue; }
    const dels = [];
    const adds = [];
    while (k < ops.length && ops[k].t !== 'same') {
      (ops[k].t === 'del' ? dels : adds).push(ops[k]);
      k++;
    }
    for (let x = 0; x < Math.max(dels.length, adds.length); x++) {
      const d = dels[x];
      const a = adds[x];
      rows.push({ t: d && a ? 'change' : d ? 'del' : 'add', a: d ? d.a : null, ai: d ? d.ai : 0, b: a ? a.b : null, bi: a ? a.bi : 0 });
    }
  }
  return rows;
}
