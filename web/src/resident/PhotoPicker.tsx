// Photos chosen for a new listing: previews, at most nine, type and size checked before upload
// (the API checks both again and re-encodes what it keeps).
import { useEffect, useMemo, useState, type ReactNode } from "react";

import { resident } from "../strings";

export const MAX_PHOTOS = 9;
// LAGO_MAX_UPLOAD_BYTES' default; a larger file would be refused by the API anyway.
export const MAX_PHOTO_BYTES = 5 << 20;
const TYPES = new Set(["image/jpeg", "image/png", "image/webp"]);

export function PhotoPicker({ files, onChange }: { files: File[]; onChange: (files: File[]) => void }): ReactNode {
  const [problems, setProblems] = useState<string[]>([]);
  const previews = useMemo(() => files.map((f) => URL.createObjectURL(f)), [files]);
  useEffect(() => () => previews.forEach((url) => URL.revokeObjectURL(url)), [previews]);
  const p = resident.publish;
  const add = (chosen: FileList | null): void => {
    const next = [...files];
    const found: string[] = [];
    for (const file of Array.from(chosen ?? [])) {
      if (!TYPES.has(file.type)) found.push(p.wrongType(file.name));
      else if (file.size > MAX_PHOTO_BYTES) found.push(p.tooLarge(file.name, MAX_PHOTO_BYTES >> 20));
      else if (next.length >= MAX_PHOTOS) {
        found.push(p.tooMany(MAX_PHOTOS));
        break;
      } else next.push(file);
    }
    setProblems(found);
    onChange(next);
  };
  return (
    <fieldset className="photos">
      <legend>
        {p.photos} <span className="muted">{p.photoCount(files.length, MAX_PHOTOS)}</span>
      </legend>
      <ul className="photo-grid">
        {previews.map((url, i) => (
          <li key={url}>
            <img src={url} alt={resident.listing.photos(i + 1, files.length)} />
            <button type="button" className="photo-remove" aria-label={p.removePhoto(i + 1)} onClick={() => onChange(files.filter((_, j) => j !== i))}>
              ×
            </button>
          </li>
        ))}
        {files.length < MAX_PHOTOS ? (
          <li>
            <label className="photo-add">
              <span>+ {p.addPhoto}</span>
              <input
                className="sr-only"
                type="file"
                accept="image/jpeg,image/png,image/webp"
                multiple
                onChange={(e) => {
                  add(e.target.files);
                  e.target.value = "";
                }}
              />
            </label>
          </li>
        ) : null}
      </ul>
      {problems.map((text) => (
        <p key={text} className="error" role="alert">
          {text}
        </p>
      ))}
    </fieldset>
  );
}
