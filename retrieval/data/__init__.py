"""Small derived data files shipped with the package (see each file's LICENSE-*.txt), and
the scripts that rebuild them. The library reads the files; only the scripts read sources."""
