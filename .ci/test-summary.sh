#!/usr/bin/env bash
# Prints "N passed, N failed, N skipped" from the TRX files under a results directory and exits non-zero
# when any test failed or no results were found. The counts come from each run's <Counters> element.
# Above that line it names every failed test with its message and where it failed, and any test run that
# ended in an error (a crashed test host leaves no failed test, only a run-level message), so a CI log says
# which test failed and why without opening the TRX files.
set -euo pipefail
dir="${1:-TestResults}"
shopt -s nullglob globstar
files=("$dir"/**/*.trx)
if [ ${#files[@]} -eq 0 ]; then
  echo "no test results (.trx) found under $dir" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

# perl-base is part of every Debian/Ubuntu system, so this needs nothing installed. A TRX file is written by
# one logger in one layout: each result is one <UnitTestResult ...> element whose <ErrorInfo> holds
# <Message> and <StackTrace>; attribute values and text are XML-escaped.
perl -0777 -ne '
  sub unxml { my $s = shift; $s =~ s/&lt;/</g; $s =~ s/&gt;/>/g; $s =~ s/&quot;/"/g; $s =~ s/&apos;/\x27/g;
              $s =~ s/&#x([0-9A-Fa-f]+);/chr(hex($1))/ge; $s =~ s/&#(\d+);/chr($1)/ge; $s =~ s/&amp;/&/g; $s =~ s/\r//g; $s }
  while (/<UnitTestResult\b([^>]*?)(?:\/>|>(.*?)<\/UnitTestResult>)/sg) {
    my ($attrs, $body) = ($1, $2 // "");
    next unless $attrs =~ /\boutcome="(Failed|Error|Timeout|Aborted)"/;
    my $outcome = $1;
    my ($name) = $attrs =~ /\btestName="([^"]*)"/;
    my ($duration) = $attrs =~ /\bduration="([^"]*)"/;
    my ($message) = $body =~ /<Message>(.*?)<\/Message>/s;
    my ($stack) = $body =~ /<StackTrace>(.*?)<\/StackTrace>/s;
    print "FAILED ", unxml($name // "?"), " [$outcome", ($duration ? ", $duration" : ""), "]\n";
    my @lines = split /\n/, unxml($message // "(no message)");
    splice(@lines, 25, scalar(@lines) - 25, "... (" . (scalar(@lines) - 25) . " more lines in the TRX file)") if @lines > 25;
    print "    $_\n" for @lines;
    # The first frame that names a source line is where the test failed (the rest is framework plumbing).
    if (defined $stack && unxml($stack) =~ /^\s*(at .*? in .*?:line \d+)\s*$/m) { print "    $1\n"; }
  }
  # xUnit repeats every failed test here as "... [FAIL]"; anything else (a test host that crashed or was
  # aborted) is reported as it stands.
  while (/<RunInfo\b[^>]*\boutcome="Error"[^>]*>\s*<Text>(.*?)<\/Text>/sg) {
    my $text = unxml($1);
    next if $text =~ /\[FAIL\]\s*$/;
    print "TEST RUN ERROR in $ARGV\n";
    print "    $_\n" for split /\n/, $text;
  }
' "${files[@]}"

passed=0 failed=0 total=0 executed=0
for f in "${files[@]}"; do
  counters=$(grep -o '<Counters [^>]*>' "$f" | head -n 1)
  get() { sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" <<<"$counters"; }
  total=$((total + $(get total)))
  executed=$((executed + $(get executed)))
  passed=$((passed + $(get passed)))
  failed=$((failed + $(get failed) + $(get error) + $(get timeout) + $(get aborted)))
done
skipped=$((total - executed))
echo "${passed} passed, ${failed} failed, ${skipped} skipped"
[ "$failed" -eq 0 ]
