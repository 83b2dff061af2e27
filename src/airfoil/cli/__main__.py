from airfoil.cli.main import main

main()
