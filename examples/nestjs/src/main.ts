import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';
import { ConfigError, loadConfig } from './config';

/** Starts the service; prints `listening on http://HOST:PORT` once it accepts requests (PORT=0 picks one). */
async function main(): Promise<void> {
  const config = loadConfig();
  const app = await NestFactory.create(AppModule.forRoot(config), { logger: ['log', 'warn', 'error'] });
  app.enableShutdownHooks();
  await app.listen(config.port, config.host);
  const { port } = app.getHttpServer().address() as { port: number };
  new Logger('Main').log(`listening on http://${config.host}:${port} (instance ${config.instance}, pid ${process.pid})`);
}

main().catch((err: Error) => {
  new Logger('Main').error(err instanceof ConfigError ? err.message : err.stack ?? err.message);
  process.exitCode = 1;
});
