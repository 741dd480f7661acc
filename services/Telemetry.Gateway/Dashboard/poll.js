// Polling with the page's lifetime: stops when the page is left, skips a tick while the previous one runs,
// and pauses while the tab is hidden (a hidden tab needs no live data).
export function poll(intervalMs, tick) {
  let running = false;
  let stopped = false;
  const timer = setInterval(async () => {
    if (running || stopped || document.hidden) return;
    running = true;
    try {
      await tick();
    } catch (error) {
      console.warn('refresh failed:', error.message);
    } finally {
      running = false;
    }
  }, intervalMs);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
