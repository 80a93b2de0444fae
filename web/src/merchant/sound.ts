// A short two-tone chime for a new order, made with the Web Audio API (no audio file to load).
// Browsers block audio until the page has had a user gesture: the context is created and resumed
// on the first click or key press, and a chime while audio is blocked is simply not heard — it
// never throws into the order list.

type AudioContextClass = typeof AudioContext;

let context: AudioContext | null = null;

function audioClass(): AudioContextClass | null {
  const w = window as unknown as { AudioContext?: AudioContextClass; webkitAudioContext?: AudioContextClass };
  return w.AudioContext ?? w.webkitAudioContext ?? null;
}

function ensureContext(): AudioContext | null {
  if (context) return context;
  const Klass = audioClass();
  if (!Klass) return null;
  try {
    context = new Klass();
  } catch (error) {
    console.warn("chime: no audio context", error);
    return null;
  }
  return context;
}

/** Resume audio on the page's first gesture, so later chimes can play. */
export function unlockAudioOnGesture(): () => void {
  const unlock = (): void => {
    const ctx = ensureContext();
    if (ctx && ctx.state === "suspended") ctx.resume().catch(() => undefined);
  };
  window.addEventListener("pointerdown", unlock, { once: true });
  window.addEventListener("keydown", unlock, { once: true });
  return () => {
    window.removeEventListener("pointerdown", unlock);
    window.removeEventListener("keydown", unlock);
  };
}

/** Two short rising tones (about 0.3 s). Silent, never throwing, when audio is unavailable. */
export function chime(): void {
  try {
    const ctx = ensureContext();
    if (!ctx) return;
    if (ctx.state === "suspended") {
      // Without a gesture yet this stays suspended; the tones below are then dropped silently.
      ctx.resume().catch(() => undefined);
    }
    const start = ctx.currentTime;
    [880, 1320].forEach((frequency, i) => {
      const at = start + i * 0.15;
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = "sine";
      osc.frequency.setValueAtTime(frequency, at);
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.25, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.14);
      osc.connect(gain).connect(ctx.destination);
      osc.start(at);
      osc.stop(at + 0.15);
    });
  } catch (error) {
    console.warn("chime: audio failed", error);
  }
}
