// Several tests measure time, memory or a child process; running them one at a time on a 2-core machine
// keeps those figures meaningful and the runs reproducible.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
