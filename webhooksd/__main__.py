from webhooksd.cli import main

main()
