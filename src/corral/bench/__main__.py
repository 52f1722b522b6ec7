from corral.bench.cli import main

main()
