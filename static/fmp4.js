// Just enough of the server's fMP4 (camserver/media/fmp4.py) for the H.264 page's two paths:
// an init segment's avcC (WebCodecs' decoder description) and, per fragment, its decode time,
// whether it is a keyframe or one of the server's repeat pictures, and where its access unit is.

/** The boxes between byte `start` and `end` of `view`: [{type, at (the box), start (its
 * payload), end}]. */
export function boxes(view, start, end) {
  const out = [];
  let pos = start;
  while (pos + 8 <= end) {
    let size = view.getUint32(pos);
    const type = String.fromCharCode(view.getUint8(pos + 4), view.getUint8(pos + 5),
                                     view.getUint8(pos + 6), view.getUint8(pos + 7));
    let header = 8;
    if (size === 1) {
      size = Number(view.getBigUint64(pos + 8));
      header = 16;
    } else if (size === 0) {
      size = end - pos;
    }
    if (size < header || pos + size > end) break;
    out.push({ type, at: pos, start: pos + header, end: pos + size });
    pos += size;
  }
  return out;
}

/** The first box of `type` inside `parent` ({start, end}), or null. */
function child(view, parent, type) {
  return boxes(view, parent.start, parent.end).find((b) => b.type === type) || null;
}

/**
 * {time (90 kHz ticks), key, repeat, durationAt, sample: Uint8Array} of a moof+mdat fragment, or
 * null. `repeat`: a picture nothing depends on (sample_is_depended_on = 2), which is how the
 * server marks its repeats of the previous camera frame (camserver/media/repeat.py).
 * `durationAt`: byte offset of the first sample's declared duration (the MSE path rewrites it in
 * Firefox). `sample`: the first sample's bytes (the access unit, AVCC: length-prefixed NAL units),
 * a view into `buffer`.
 */
export function parseFragment(buffer) {
  const view = new DataView(buffer);
  const top = boxes(view, 0, view.byteLength);
  const moof = top.find((b) => b.type === "moof");
  if (!moof) return null;
  const traf = child(view, moof, "traf");
  if (!traf) return null;
  let time = null;
  let key = false;
  let repeat = false;
  let durationAt = null;
  let dataOffset = null;
  let size = null;
  for (const b of boxes(view, traf.start, traf.end)) {
    const version = view.getUint8(b.start);
    const flags = view.getUint32(b.start) & 0xffffff;
    if (b.type === "tfdt") {
      time = version === 1 ? Number(view.getBigUint64(b.start + 4)) : view.getUint32(b.start + 4);
    } else if (b.type === "trun") {
      const count = view.getUint32(b.start + 4);
      let pos = b.start + 8;
      if (flags & 0x1) { dataOffset = view.getInt32(pos); pos += 4; }
      let firstFlags = null;
      if (flags & 0x4) { firstFlags = view.getUint32(pos); pos += 4; }
      for (let i = 0; i < count; i++) {
        if (flags & 0x100) { if (i === 0) durationAt = pos; pos += 4; }
        if (flags & 0x200) { if (i === 0) size = view.getUint32(pos); pos += 4; }
        let sampleFlags = null;
        if (flags & 0x400) { sampleFlags = view.getUint32(pos); pos += 4; }
        if (flags & 0x800) pos += 4;
        if (i === 0) {
          const f = firstFlags ?? sampleFlags;
          key = f != null && !((f >>> 16) & 1) && ((f >>> 24) & 3) !== 1;
          repeat = f != null && ((f >>> 22) & 3) === 2;
        }
      }
    }
  }
  if (time == null) return null;
  // The sample: at data_offset from the moof's start (default-base-is-moof), else the mdat's
  // payload.
  let sample = null;
  const mdat = top.find((b) => b.type === "mdat");
  if (dataOffset != null && size != null && moof.at + dataOffset + size <= buffer.byteLength) {
    sample = new Uint8Array(buffer, moof.at + dataOffset, size);
  } else if (mdat) {
    sample = new Uint8Array(buffer, mdat.start, size ?? mdat.end - mdat.start);
  }
  return { time, key, repeat, durationAt, sample };
}

/** {avcC: Uint8Array, width, height} of an init segment (ftyp+moov), or null. The avcC record
 * is what WebCodecs takes as the decoder's `description` (then chunks are AVCC, as in the
 * fragments). */
export function parseInit(buffer) {
  const view = new DataView(buffer);
  let box = boxes(view, 0, view.byteLength).find((b) => b.type === "moov");
  for (const type of ["trak", "mdia", "minf", "stbl", "stsd"]) {
    if (!box) return null;
    box = child(view, box, type);
  }
  if (!box) return null;
  // stsd: version/flags and an entry count, then the sample entries.
  const entry = boxes(view, box.start + 8, box.end).find((b) => b.type === "avc1"
                                                             || b.type === "avc3");
  if (!entry) return null;
  // A visual sample entry's fields take 78 bytes before its child boxes.
  const width = view.getUint16(entry.start + 24);
  const height = view.getUint16(entry.start + 26);
  const avcC = child(view, { start: entry.start + 78, end: entry.end }, "avcC");
  if (!avcC) return null;
  return { avcC: new Uint8Array(buffer.slice(avcC.start, avcC.end)), width, height };
}
